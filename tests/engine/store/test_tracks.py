"""``engine.store.tracks`` against a real PostgreSQL: round trips, organization scoping, search, paging.

Rules: each test gets a fresh migrated database from the ``db`` fixture and makes its own organizations;
real time only (no autojump clock); every test has a ``fail_after`` deadline.
"""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
import pytest
import trio

from engine.store import Database
from engine.store.catalog_common import Conflict
from engine.store.tracks import (
    NewTrack,
    create_track,
    delete_track,
    get_track,
    list_tracks,
    update_track,
)
from tests.helpers import factories


def _new(title: str = "Summer Vibes", artist: str = "Artist", **fields: object) -> NewTrack:
    return NewTrack(title=title, artist=artist, **fields)  # type: ignore[arg-type]


async def test_create_get_update_delete_round_trip(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        created = await create_track(db, org, _new(
            album="Album", release_date=date(2024, 6, 1), duration=210, spotify_id="sp1", isrc="USRC1",
            cover_art_url="https://img/1", genres=["pop", "electronic"],
        ))  # fmt: skip
        assert (created.duration, created.genres) == (210, ["pop", "electronic"])
        assert await get_track(db, org, created.id) == created

        updated = await update_track(db, org, created.id, {"album": None, "duration": 200})
        assert updated is not None
        assert (updated.album, updated.duration, updated.title) == (None, 200, "Summer Vibes")
        assert updated.updated_at > created.updated_at
        assert updated.created_at == created.created_at

        assert await delete_track(db, org, created.id) is True
        assert await get_track(db, org, created.id) is None
        assert await delete_track(db, org, created.id) is False
        assert await update_track(db, org, created.id, {"title": "x"}) is None


async def test_encodes_as_the_apis_camel_case_json(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track = await create_track(db, org, _new(release_date=date(2024, 6, 1), duration=210, spotify_id="s"))
        wire = msgspec.json.decode(msgspec.json.encode(track))
        assert set(wire) == {
            "id", "title", "artist", "album", "releaseDate", "duration", "spotifyId", "isrc", "coverArtUrl",
            "genres", "createdAt", "updatedAt",
        }  # fmt: skip
        assert (wire["releaseDate"], wire["duration"], wire["genres"]) == ("2024-06-01", 210, [])


async def test_another_organizations_track_is_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, org_b = await factories.create_org(db, "a"), await factories.create_org(db, "b")
        track = await create_track(db, org_a, _new())
        assert await get_track(db, org_b, track.id) is None
        assert await update_track(db, org_b, track.id, {"title": "stolen"}) is None
        assert await delete_track(db, org_b, track.id) is False
        assert (await list_tracks(db, org_b)).items == []
        assert await get_track(db, org_a, track.id) == track


async def test_spotify_id_is_unique_per_organization(db: Database) -> None:
    with trio.fail_after(10):
        org_a, org_b = await factories.create_org(db, "a"), await factories.create_org(db, "b")
        await create_track(db, org_a, _new(spotify_id="sp1"))
        with pytest.raises(Conflict) as info:
            await create_track(db, org_a, _new(spotify_id="sp1"))
        assert info.value.field == "spotifyId"
        await create_track(db, org_b, _new(spotify_id="sp1"))  # another label may own the same song
        other = await create_track(db, org_a, _new(spotify_id="sp2"))
        with pytest.raises(Conflict):
            await update_track(db, org_a, other.id, {"spotify_id": "sp1"})
        await create_track(db, org_a, _new())  # many tracks without a Spotify id are fine
        await create_track(db, org_a, _new())


async def test_update_refuses_unknown_fields(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track = await create_track(db, org, _new())
        for key in ("organization_id", "id", "duration_seconds", "title = 'x', artist"):
            with pytest.raises(ValueError, match="cannot update"):
                await update_track(db, org, track.id, {key: "x"})
        assert await get_track(db, org, track.id) == track


async def test_search_matches_title_or_artist_literally_and_ignoring_case(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        for title, artist in [("100% Pure", "A"), ("1000 Pure", "B"), ("a_b", "C"), ("axb", "D"),
                              ("Back\\slash", "E"), ("Other", "The 100% Band")]:  # fmt: skip
            await create_track(db, org, _new(title, artist))

        async def titles(search: str) -> set[str]:
            return {track.title for track in (await list_tracks(db, org, search=search)).items}

        assert await titles("0%") == {"100% Pure", "Other"}
        assert await titles("_") == {"a_b"}
        assert await titles("\\") == {"Back\\slash"}
        assert await titles("PURE") == {"100% Pure", "1000 Pure"}
        assert await titles("nothing") == set()
        assert len((await list_tracks(db, org, search="")).items) == 6


async def test_pages_are_stable_when_creation_times_tie(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        ids = {(await create_track(db, org, _new(f"t{i}"))).id for i in range(5)}
        await db.execute("UPDATE tracks SET created_at = '2024-01-01T00:00:00Z'")
        seen: list[uuid.UUID] = []
        for offset in range(0, 6, 2):
            page = await list_tracks(db, org, limit=2, offset=offset)
            assert (page.total, page.limit, page.offset) == (5, 2, offset)
            assert page.has_next == (offset + 2 < 5)
            seen += [track.id for track in page.items]
        assert len(seen) == 5 and set(seen) == ids
        assert (await list_tracks(db, org, limit=2, offset=10)).items == []
        with pytest.raises(ValueError):
            await list_tracks(db, org, limit=-1)
