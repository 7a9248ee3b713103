"""The Spotify routes (``/v1/spotify/...`` and ``POST /v1/tracks/sync/spotify``) against the Spotify
simulator, through an account connected with our real OAuth routes.

Rules of this file: expected values come from the simulator's world (``simulators.spotify.world``), never
from literals; a simulator is configured before the account connects, since its tokens live in it (the
fault tests change the running simulator's ``config`` instead); every I/O step runs under ``fail_after``
on the trio clock, and ``mock_clock.jump`` happens outside those blocks, since it would fire them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from adapters.spotify.schemas import Album, ExternalIds, Image, SimpleArtist, Track
from adapters.spotify.simulator import FaultConfig, SpotifySimulator
from engine.store.database import Database
from http_api.context import ApiContext
from http_api.providers.spotify_schemas import new_track, release_date
from tests.http_api.conftest import MakeMember, Member, Simulators, spotify_simulator
from tests.http_api.connect import connect

CAMPAIGN = {"name": "Launch", "budget": 1000, "currency": "USD", "startDate": "2026-09-01T00:00:00Z",
            "endDate": "2026-10-01T00:00:00Z"}


async def _connected(client: Client, sims: Simulators, make_member: MakeMember, **config: object) -> Member:
    if config:
        sims.spotify = spotify_simulator(**config)
    owner = await make_member()
    await connect(client, sims, "spotify", owner)
    return owner


async def _get(client: Client, member: Member, path: str, status: int = 200, **query: object) -> Any:
    response = await client.get(path, headers=member.headers, query_string=query or None)
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def _sync(client: Client, member: Member, reference: str, status: int = 201) -> Any:
    response = await client.post("/v1/tracks/sync/spotify", headers=member.headers, json={"spotifyUri": reference})
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


def _label_track(sim: SpotifySimulator) -> Any:
    catalog = sim.world.catalog
    return next(t for t in catalog.tracks.values() if t.artist_id == catalog.label_artist.id)


def _with_faults(sim: SpotifySimulator, faults: FaultConfig) -> None:
    sim.config = msgspec.structs.replace(sim.config, faults=faults)


# -- reads ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["extended", "development"])
async def test_profile_is_the_connected_account(
    client: Client, simulators: Simulators, make_member: MakeMember, mode: str,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member, mode=mode)
        user = simulators.spotify.world.catalog.label_user
        profile = await _get(client, owner, "/v1/spotify/profile")
    assert (profile["id"], profile["displayName"], profile["accountId"]) == (
        user.id, user.display_name, user.account_id)
    private = (profile["country"], profile["product"], profile["followers"])
    assert private == ((user.country, user.product, user.followers) if mode == "extended" else (None, None, None))


async def test_saved_tracks_are_paged_in_our_shape(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        world = simulators.spotify.world
        saved = world.saved_tracks(world.catalog.label_user.id)
        body = await _get(client, owner, "/v1/spotify/tracks", limit=3, offset=2)
        last = await _get(client, owner, "/v1/spotify/tracks", limit=50, offset=len(saved) - 1)
    assert body["pagination"] == {"total": len(saved), "limit": 3, "offset": 2, "hasNext": len(saved) > 5}
    assert [t["spotifyId"] for t in body["tracks"]] == [t.id for t, _ in saved[2:5]]
    first, (track, added) = body["tracks"][0], saved[2]
    artist = world.catalog.artists[track.artist_id]
    album = world.catalog.albums[track.album_id]
    assert first["name"] == track.name and first["durationMs"] == track.duration_ms
    assert first["popularity"] == track.popularity and first["uri"] == f"spotify:track:{track.id}"
    assert first["artists"] == [{"spotifyId": artist.id, "name": artist.name}]
    assert (first["album"]["spotifyId"], first["album"]["releaseDate"]) == (album.id, album.release_date)
    assert datetime.fromisoformat(first["addedAt"]) == datetime.fromtimestamp(added, UTC)
    assert last["pagination"]["hasNext"] is False and len(last["tracks"]) == 1


@pytest.mark.parametrize("mode", ["extended", "development"])
async def test_playlists_read_in_both_shapes(
    client: Client, simulators: Simulators, make_member: MakeMember, mode: str,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member, mode=mode)
        catalog = simulators.spotify.world.catalog
        body = await _get(client, owner, "/v1/spotify/playlists", limit=2)
    expected = list(catalog.playlists.values())[:2]
    assert body["pagination"] == {"total": len(catalog.playlists), "limit": 2, "offset": 0,
                                  "hasNext": len(catalog.playlists) > 2}
    assert [(p["spotifyId"], p["name"], p["trackCount"], p["ownerId"]) for p in body["playlists"]] == [
        (p.id, p.name, len(p.track_ids), p.owner_id) for p in expected]


@pytest.mark.parametrize("mode", ["extended", "development"])
async def test_an_artist_with_and_without_the_removed_fields(
    client: Client, simulators: Simulators, make_member: MakeMember, mode: str,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member, mode=mode)
        artist = simulators.spotify.world.catalog.label_artist
        body = await _get(client, owner, f"/v1/spotify/artists/{artist.id}")
        bad = await _get(client, owner, "/v1/spotify/artists/not-an-id", status=400)
    assert (body["spotifyId"], body["name"], body["genres"]) == (artist.id, artist.name, list(artist.genres))
    extended = mode == "extended"
    assert (body["followers"], body["popularity"]) == ((artist.followers, artist.popularity) if extended
                                                       else (None, None))
    assert bad["error"]["details"][0]["field"] == "artistId"


async def test_search_finds_each_type_within_the_caps(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        catalog = simulators.spotify.world.catalog
        track, artist = _label_track(simulators.spotify), catalog.label_artist
        album = catalog.albums[track.album_id]
        tracks = await _get(client, owner, "/v1/spotify/search", q=f"isrc:{track.isrc}")
        artists = await _get(client, owner, "/v1/spotify/search", q=artist.name, type="artist", limit=10)
        albums = await _get(client, owner, "/v1/spotify/search", q=album.name, type="album")
        refused = [await _get(client, owner, "/v1/spotify/search", status=400, **query)
                   for query in ({"q": ""}, {"q": "   "}, {"q": "x", "type": "playlist"}, {"q": "x", "limit": 11})]
    assert tracks["type"] == "track" and tracks["artists"] == [] and tracks["albums"] == []
    assert tracks["pagination"] == {"total": 1, "limit": 5, "offset": 0, "hasNext": False}
    assert [(t["spotifyId"], t["name"]) for t in tracks["tracks"]] == [(track.id, track.name)]
    assert artist.id in [a["spotifyId"] for a in artists["artists"]] and artists["tracks"] == []
    assert album.id in [a["spotifyId"] for a in albums["albums"]]
    assert [r["error"]["details"][0]["field"] for r in refused] == ["q", "q", "type", "limit"]


async def test_analytics_tell_what_spotify_and_our_catalogue_know(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        track = _label_track(simulators.spotify)
        artist = simulators.spotify.world.catalog.artists[track.artist_id]
        path = f"/v1/spotify/tracks/{track.id}/analytics"
        before = await _get(client, owner, path)
        ours = await _sync(client, owner, f"spotify:track:{track.id}")
        created = await client.post("/v1/campaigns", headers=owner.headers, json=CAMPAIGN | {"trackId": ours["id"]})
        assert created.status_code == 201, await created.get_data()
        after = await _get(client, owner, path)
        bad = await _get(client, owner, "/v1/spotify/tracks/short/analytics", status=400)
    assert (before["spotifyId"], before["popularity"]) == (track.id, track.popularity)
    assert [(a["spotifyId"], a["followers"], a["popularity"]) for a in before["artists"]] == [
        (artist.id, artist.followers, artist.popularity)]
    assert (before["catalogTrackId"], before["campaigns"]) == (None, [])
    assert "streams" not in after  # Spotify's Web API has no stream counts
    campaign = await created.get_json()
    assert after["catalogTrackId"] == ours["id"]
    assert [(c["id"], c["name"], c["status"]) for c in after["campaigns"]] == [
        (campaign["id"], campaign["name"], campaign["status"])]
    assert bad["error"]["details"][0]["field"] == "spotifyId"


# -- sync -----------------------------------------------------------------------------------------------

async def test_sync_creates_then_refreshes_one_catalogue_track(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        catalog = simulators.spotify.world.catalog
        track = _label_track(simulators.spotify)
        album = catalog.albums[track.album_id]
        first = await _sync(client, owner, f"spotify:track:{track.id}")
        tagged = await client.patch(f"/v1/tracks/{first['id']}", headers=owner.headers,
                                    json={"genres": ["synthwave"], "title": "Renamed by hand"})
        assert tagged.status_code == 200, await tagged.get_data()
        again = await _sync(client, owner, f"https://open.spotify.com/intl-de/track/{track.id}?si=abc", status=200)
        rows = await db.fetchval("SELECT count(*) FROM tracks WHERE organization_id = $1", owner.org_id)
        listed = await _get(client, owner, "/v1/tracks")
    assert first["title"] == track.name and first["artist"] == catalog.artists[track.artist_id].name
    assert (first["album"], first["releaseDate"]) == (album.name, album.release_date)
    assert (first["spotifyId"], first["isrc"]) == (track.id, track.isrc)
    assert first["duration"] == round(track.duration_ms / 1000)
    assert first["coverArtUrl"] is None  # the simulator's albums have no images
    assert again["id"] == first["id"] and again["title"] == track.name and again["genres"] == ["synthwave"]
    assert rows == 1 and listed["tracks"] == [again]


async def test_analytics_and_sync_stay_inside_the_organization(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        victim = await _connected(client, simulators, make_member)
        intruder = await _connected(client, simulators, make_member)
        track = _label_track(simulators.spotify)
        theirs = await _sync(client, victim, track.id)
        created = await client.post("/v1/campaigns", headers=victim.headers, json=CAMPAIGN | {"trackId": theirs["id"]})
        assert created.status_code == 201, await created.get_data()
        seen = await _get(client, intruder, f"/v1/spotify/tracks/{track.id}/analytics")
        ours = await _sync(client, intruder, track.id)  # a track of its own, not a refresh of the victim's
        kept = await db.fetchval("SELECT updated_at FROM tracks WHERE id = $1", uuid.UUID(theirs["id"]))
    assert (seen["catalogTrackId"], seen["campaigns"]) == (None, [])
    assert ours["id"] != theirs["id"] and kept == datetime.fromisoformat(theirs["updatedAt"])


async def test_sync_takes_a_bare_id_and_refuses_other_references(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        track = _label_track(simulators.spotify)
        bare = await _sync(client, owner, track.id)
        refused = []
        for reference in ("spotify:album:" + track.id, f"spotify:track:{track.id}\n", "spotify:track:short",
                          f"https://evil.example/track/{track.id}", ""):
            refused.append(await _sync(client, owner, reference, status=400))
        unknown = await client.post("/v1/tracks/sync/spotify", headers=owner.headers, json={"uri": track.id})
    assert bare["spotifyId"] == track.id
    assert all(r["error"]["details"][0]["field"] == "spotifyUri" for r in refused)
    assert unknown.status_code == 400


async def test_a_track_missing_at_spotify_is_a_502(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        answer = await _sync(client, owner, "spotify:track:" + "0" * 22, status=502)
    assert answer["error"]["code"] == "INTEGRATION_ERROR" and "Resource not found" in answer["error"]["message"]


# -- access and the account's state -----------------------------------------------------------------------

async def test_without_a_connected_account_every_route_is_409(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        artist = simulators.spotify.world.catalog.label_artist.id
        track = _label_track(simulators.spotify).id
        for path in ("/v1/spotify/profile", "/v1/spotify/tracks", "/v1/spotify/playlists",
                     f"/v1/spotify/artists/{artist}", f"/v1/spotify/tracks/{track}/analytics",
                     "/v1/spotify/search?q=neon"):
            answer = await _get(client, owner, path, status=409)
            assert answer["error"]["code"] == "INTEGRATION_ERROR", path
        await _sync(client, owner, track, status=409)


async def test_a_viewer_reads_but_cannot_sync(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        profile = await _get(client, viewer, "/v1/spotify/profile")
        refused = await _sync(client, viewer, _label_track(simulators.spotify).id, status=403)
    assert profile["id"] == simulators.spotify.world.catalog.label_user.id
    assert refused["error"]["code"] == "AUTHORIZATION_ERROR"


def _fresh(ctx: ApiContext, member: Member) -> Member:
    """``member`` with a new API access token: ours expire too when the clock jumps."""
    token = ctx.tokens.mint(user_id=member.user_id, org_id=member.org_id, role=member.role,
                            session_id=member.session_id)
    return Member(member.user_id, member.org_id, member.email, member.role, member.session_id,
                  member.refresh_token, token)


async def _sealed(db: Database, org_id: uuid.UUID) -> Any:
    return await db.fetchrow("SELECT refresh_token_sealed, token_expires_at FROM integrations"
                             " WHERE organization_id = $1 AND provider = 'spotify'", org_id)


async def test_an_expired_token_is_refreshed_and_the_rotated_one_kept(
    client: Client, simulators: Simulators, ctx: ApiContext, db: Database, make_member: MakeMember,
    mock_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        before = await _sealed(db, owner.org_id)
    mock_clock.jump(3600)
    owner = _fresh(ctx, owner)
    with trio.fail_after(20):
        profile = await _get(client, owner, "/v1/spotify/profile")
        after = await _sealed(db, owner.org_id)
        again = await _get(client, owner, "/v1/spotify/tracks", limit=1)
        integration = await _get(client, owner, "/v1/integrations/spotify")
    assert profile["id"] == simulators.spotify.world.catalog.label_user.id and again["tracks"]
    assert after["refresh_token_sealed"] != before["refresh_token_sealed"]
    assert after["token_expires_at"] > before["token_expires_at"]
    assert integration["integration"]["status"] == "connected"


async def test_a_refused_refresh_asks_for_a_new_connection(
    client: Client, simulators: Simulators, ctx: ApiContext, make_member: MakeMember,
    mock_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
    for held in simulators.spotify.auth._refresh.values():  # no public revoke: as the user would in Spotify
        held.revoked = True
    mock_clock.jump(3600)
    owner = _fresh(ctx, owner)
    with trio.fail_after(20):
        refused = await _get(client, owner, "/v1/spotify/profile", status=409)
        integration = await _get(client, owner, "/v1/integrations/spotify")
        still = await _get(client, owner, "/v1/spotify/tracks", status=409)
    assert refused["error"]["code"] == "INTEGRATION_ERROR"
    assert integration["integration"]["status"] == "needs_reauth"
    assert still["error"]["details"] == [{"field": "integration", "message": "needs_reauth"}]


async def test_spotify_failures_are_502_with_spotifys_message(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        _with_faults(simulators.spotify, FaultConfig(error_rate=1.0))
        failed = await _get(client, owner, "/v1/spotify/profile", status=502)
        _with_faults(simulators.spotify, FaultConfig(storm_rate=1.0, storm_retry_after=7))
        limited = await client.get("/v1/spotify/playlists", headers=owner.headers)
    error = failed["error"]
    assert error["code"] == "INTEGRATION_ERROR" and error["message"].startswith("Spotify: ")
    assert any(m in error["message"] for m in ("Server error.", "Bad gateway.", "Service unavailable"))
    assert limited.status_code == 502 and limited.headers["Retry-After"] == "7"
    assert "Too many requests" in (await limited.get_json())["error"]["message"]


# -- the mapping on its own --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "precision", "expected"), [
    ("2024-03-15", "day", date(2024, 3, 15)), ("2024-03", "month", date(2024, 3, 1)),
    ("2024", "year", date(2024, 1, 1)), ("2024", None, date(2024, 1, 1)), ("0000", "year", None),
    ("2024-02-30", "day", None), ("2024-03", "day", None), ("", "day", None), (None, None, None),
    ("2024-03-15-1", None, None),
])
def test_release_dates_of_every_precision(value: str | None, precision: str | None, expected: date | None) -> None:
    assert release_date(value, precision) == expected


def test_a_track_maps_to_catalogue_fields_our_api_accepts() -> None:
    images = [Image(url="https://i.example/64.jpg", width=64, height=64),
              Image(url="https://i.example/640.jpg", width=640, height=640)]
    album = Album(id="a" * 22, name="Album", release_date="2021-06", release_date_precision="month", images=images)
    track = Track(id="t" * 22, name="Song\x00", duration_ms=200_400, album=album,
                  artists=[SimpleArtist(id="b" * 22, name="Ana"), SimpleArtist(id="c" * 22, name="Bo")],
                  external_ids=ExternalIds(isrc="us-rc1-76-07839"))
    fields = new_track(track, "t" * 22)
    assert fields is not None
    assert (fields.title, fields.artist, fields.album) == ("Song", "Ana, Bo", "Album")
    assert (fields.release_date, fields.duration, fields.cover_art_url) == (
        date(2021, 6, 1), 200, "https://i.example/640.jpg")
    assert fields.isrc == "USRC17607839"
    odd = new_track(msgspec.structs.replace(track, external_ids=ExternalIds(isrc="not an isrc"), duration_ms=0), "x")
    assert odd is not None and (odd.isrc, odd.duration) == (None, None)
    assert new_track(Track(id="t" * 22, name="Song"), "t" * 22) is None  # no artist to file it under
