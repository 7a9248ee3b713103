"""The simulator's ``/v1`` surface over HTTP: paging, recently-played cursors, the campaign effect,
development-mode restrictions and determinism (PROVIDERS.md B0, B2, D "Spotify").

Rules: tokens are obtained through ``/authorize`` + ``/api/token`` (``sandbox.pkce_login``); behaviour is
observed only in HTTP answers; the world's ground truth is read only to compare counts against it;
simulated time moves only through ``ManualTime.advance``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from adapters.spotify.simulator import ManualTime, SimClock, SimulatorConfig, SpotifySimulator
from adapters.spotify.simulator.sandbox import ALL_SCOPES, pkce_login

START = datetime(2026, 9, 1, tzinfo=UTC)


def _simulator(at: datetime = START, **overrides: object) -> tuple[SpotifySimulator, ManualTime]:
    config = SimulatorConfig(**{"seed": 11, **overrides})  # type: ignore[arg-type]
    time = ManualTime()
    return SpotifySimulator(config, clock=SimClock(at, monotonic=time)), time


def _http(simulator: SpotifySimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(simulator), base_url="http://sim.test")


async def _login(http: httpx.AsyncClient, user: str | None = None, scope: str = ALL_SCOPES) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await pkce_login(http, user, scope=scope)).access_token}"}


async def test_recently_played_pages_back_through_the_50_most_recent() -> None:
    simulator, _ = _simulator(at=START + timedelta(days=3))
    async with _http(simulator) as http:
        auth = await _login(http, "fan0002")
        page = (await http.get("/v1/me/player/recently-played", params={"limit": 20}, headers=auth)).json()
        seen = []
        while True:
            assert set(page) == {"href", "items", "limit", "next", "cursors"}
            seen += [item["played_at"] for item in page["items"]]
            if page["next"] is None:
                break
            assert page["next"].endswith(f"before={page['cursors']['before']}&limit=20")
            page = (await http.get(page["next"], headers=auth)).json()
    assert len(seen) == 50 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


async def test_after_and_before_are_mutually_exclusive() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.get("/v1/me/player/recently-played", params={"after": 1, "before": 2},
                                headers=await _login(http))
    assert answer.status_code == 400 and answer.json()["error"]["status"] == 400


async def test_after_cursor_returns_only_newer_plays() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        auth = await _login(http, "fan0001")
        first = (await http.get("/v1/me/player/recently-played", headers=auth)).json()
        time.advance(6 * 3600)
        auth = await _login(http, "fan0001")
        newer = (await http.get("/v1/me/player/recently-played", headers=auth,
                                params={"after": first["cursors"]["after"], "limit": 50})).json()
    assert newer["items"]
    assert min(item["played_at"] for item in newer["items"]) > first["items"][0]["played_at"]


async def _poll_plays(http: httpx.AsyncClient, time: ManualTime, user: str, hours: int) -> list[dict[str, object]]:
    """What a well-behaved poller sees: every 6 simulated hours, everything after the last cursor."""
    plays: list[dict[str, object]] = []
    after = str(int(START.timestamp() * 1000) - 1)
    for _ in range(hours // 6):
        time.advance(6 * 3600)
        auth = await _login(http, user)  # access tokens last one hour; a fresh login is simplest here
        page = (await http.get("/v1/me/player/recently-played", headers=auth,
                               params={"after": after, "limit": 50})).json()
        plays += page["items"]
        after = page["cursors"]["after"] if page["cursors"] else after
    return plays


async def test_campaign_tracks_are_played_more_during_the_campaign() -> None:
    campaign = (START + timedelta(days=4), START + timedelta(days=8))
    simulator, time = _simulator(campaign_start=campaign[0], campaign_end=campaign[1], campaign_boost=6.0)
    campaign_ids = set(simulator.world.catalog.campaign_track_ids)
    during: Counter[bool] = Counter()
    before: Counter[bool] = Counter()
    async with _http(simulator) as http:
        for user in ("fan0000", "fan0001", "fan0002"):
            plays = await _poll_plays(http, time, user, hours=8 * 24)
            for play in plays:
                track = play["track"]
                assert isinstance(track, dict)
                hit = track["id"] in campaign_ids
                (during if str(play["played_at"]) >= campaign[0].isoformat()[:10] else before)[hit] += 1
            truth = sum(sum(simulator.world.plays_per_track(user, (START + timedelta(days=d)).date()).values())
                        for d in range(8))
            assert len(plays) == truth
            time.value = 0.0  # the next listener is polled over the same eight days
    assert during[True] / sum(during.values()) > 2 * before[True] / sum(before.values())


async def test_development_mode_strips_fields_and_forbids_removed_endpoints() -> None:
    simulator, _ = _simulator(mode="development")
    catalog = simulator.world.catalog
    track_id, artist_id = next(iter(catalog.tracks)), catalog.label_artist.id
    async with _http(simulator) as http:
        auth = await _login(http)
        track = (await http.get(f"/v1/tracks/{track_id}", headers=auth)).json()
        artist = (await http.get(f"/v1/artists/{artist_id}", headers=auth)).json()
        me = (await http.get("/v1/me", headers=auth)).json()
        playlist = (await http.get("/v1/me/playlists", headers=auth)).json()["items"][0]
        search = (await http.get("/v1/search", params={"q": "the", "type": "track"}, headers=auth)).json()
        too_many = await http.get("/v1/search", params={"q": "the", "type": "track", "limit": 11}, headers=auth)
        top = await http.get(f"/v1/artists/{artist_id}/top-tracks", headers=auth)
    assert not {"popularity", "available_markets"} & set(track) and track["external_ids"]["isrc"]
    assert "label" not in track["album"] and "available_markets" not in track["album"]
    assert not {"followers", "popularity"} & set(artist)
    assert not {"email", "country", "product", "followers"} & set(me) and me["account_id"]
    assert "items" in playlist and "tracks" not in playlist
    assert search["tracks"]["limit"] == 5 and too_many.status_code == 400
    assert top.status_code == 403 and top.json() == {"error": {"status": 403}}


async def test_extended_mode_keeps_fields_and_top_tracks() -> None:
    simulator, _ = _simulator(mode="extended")
    artist_id = simulator.world.catalog.label_artist.id
    async with _http(simulator) as http:
        auth = await _login(http)
        artist = (await http.get(f"/v1/artists/{artist_id}", headers=auth)).json()
        top = await http.get(f"/v1/artists/{artist_id}/top-tracks", headers=auth)
        playlist = (await http.get("/v1/me/playlists", headers=auth)).json()["items"][0]
    assert artist["followers"]["total"] > 0 and 0 <= artist["popularity"] <= 100
    assert top.status_code == 200 and all("popularity" in t for t in top.json()["tracks"])
    assert "tracks" in playlist


async def test_development_mode_admits_only_allowlisted_users() -> None:
    simulator, _ = _simulator(mode="development")
    async with _http(simulator) as http:
        allowed = await http.get("/v1/me", headers=await _login(http, "fan0003"))
        stranger = await http.get("/v1/me", headers=await _login(http, "fan0004"))
    assert allowed.status_code == 200
    assert stranger.status_code == 403


async def test_missing_scope_is_forbidden() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.get("/v1/me/top/tracks", headers=await _login(http, scope="user-read-private"))
    assert answer.status_code == 403


async def test_offset_paging_object() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        page = (await http.get("/v1/me/top/tracks", params={"limit": 5, "offset": 5, "time_range": "short_term"},
                               headers=await _login(http))).json()
        bad = await http.get("/v1/me/top/tracks", params={"limit": 51}, headers=await _login(http))
    assert set(page) == {"href", "items", "limit", "next", "offset", "previous", "total"}
    assert (page["limit"], page["offset"], len(page["items"])) == (5, 5, 5)
    assert "offset=10" in page["next"] and "offset=0" in page["previous"]
    assert page["total"] == len(simulator.world.catalog.tracks)
    assert bad.status_code == 400


async def test_search_by_isrc_finds_the_track() -> None:
    simulator, _ = _simulator()
    track = next(iter(simulator.world.catalog.tracks.values()))
    async with _http(simulator) as http:
        found = (await http.get("/v1/search", params={"q": f"isrc:{track.isrc}", "type": "track"},
                                headers=await _login(http))).json()
    assert [t["id"] for t in found["tracks"]["items"]] == [track.id]


async def _transcript(seed: int) -> list[bytes]:
    simulator, time = _simulator(seed=seed, at=START + timedelta(days=2))
    async with _http(simulator) as http:
        auth = await _login(http, "fan0001")
        bodies = []
        for path in ("/v1/me", "/v1/me/player/recently-played", "/v1/me/top/artists", "/v1/me/tracks",
                     "/v1/search?q=the&type=track,artist"):
            bodies.append((await http.get(path, headers=auth)).content)
            time.advance(3600)
    return bodies


async def test_same_seed_gives_the_same_responses() -> None:
    assert await _transcript(5) == await _transcript(5)
    assert await _transcript(5) != await _transcript(6)


async def test_development_mode_playlist_contents_and_removed_endpoints() -> None:
    simulator, _ = _simulator(mode="development")
    playlist_id = next(iter(simulator.world.catalog.playlists))
    track_id = next(iter(simulator.world.catalog.tracks))
    async with _http(simulator) as http:
        owner, fan = await _login(http), await _login(http, "fan0001")
        items = await http.get(f"/v1/playlists/{playlist_id}/items", params={"limit": 2}, headers=owner)
        old_path = await http.get(f"/v1/playlists/{playlist_id}/tracks", headers=owner)
        not_owner = await http.get(f"/v1/playlists/{playlist_id}/items", headers=fan)
        features = await http.get(f"/v1/audio-features/{track_id}", headers=owner)
        recommendations = await http.get("/v1/recommendations", params={"seed_tracks": track_id}, headers=owner)
    assert items.status_code == 200 and len(items.json()["items"]) == 2
    assert set(items.json()["items"][0]) == {"added_at", "added_by", "is_local", "item"}
    assert old_path.status_code == not_owner.status_code == 403
    assert features.json() == {"error": {"status": 403}}
    assert recommendations.status_code == 404


def test_public_surface_is_pinned() -> None:
    import adapters.spotify.simulator as package

    assert package.__all__ == ["ClientApp", "FaultConfig", "ManualTime", "Play", "RateLimitConfig", "RequestRecord",
                               "SimClock", "SimulatorConfig", "SpotifySimulator", "World", "s256",
                               "serve_spotify_simulator"]
