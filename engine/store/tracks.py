"""Tracks: the songs an organization markets, stored and queried within that organization only.

Every function takes the organization's id and filters on it in SQL, so another organization's track is
simply not found. Validation of the values (lengths, URL shapes) is the HTTP layer's; the database
checks what it must (a positive duration, one track per Spotify id per organization).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime

import msgspec

from engine.store.catalog_common import (
    Executor,
    Page,
    Where,
    check_window,
    count_rows,
    like_pattern,
    page,
    raise_conflict_on,
    set_clause,
)

__all__ = [
    "UPDATABLE_FIELDS",
    "LinkedCampaign",
    "NewTrack",
    "Track",
    "campaigns_of_track",
    "create_track",
    "delete_track",
    "get_track",
    "get_track_by_spotify_id",
    "list_tracks",
    "update_track",
    "upsert_spotify_track",
]


class Track(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A track as the API shows it; ``duration`` is in seconds."""

    id: uuid.UUID
    title: str
    artist: str
    album: str | None
    release_date: date | None
    duration: int | None
    spotify_id: str | None
    isrc: str | None
    cover_art_url: str | None
    genres: list[str]
    created_at: datetime
    updated_at: datetime


class NewTrack(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The fields of a track to create; the same names are the keys ``update_track`` accepts."""

    title: str
    artist: str
    album: str | None = None
    release_date: date | None = None
    duration: int | None = None
    spotify_id: str | None = None
    isrc: str | None = None
    cover_art_url: str | None = None
    genres: list[str] = []


class LinkedCampaign(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A campaign that promotes a track, in brief."""

    id: uuid.UUID
    name: str
    status: str
    start_date: datetime
    end_date: datetime


# Field name -> column: the whitelist of what update_track may set.
_COLUMNS = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "release_date": "release_date",
    "duration": "duration_seconds",
    "spotify_id": "spotify_id",
    "isrc": "isrc",
    "cover_art_url": "cover_art_url",
    "genres": "genres",
}
UPDATABLE_FIELDS = frozenset(_COLUMNS)

# Aliased so that a record's keys are Track's field names.
_FIELDS = (
    "id, title, artist, album, release_date, duration_seconds AS duration, spotify_id, isrc, cover_art_url,"
    " genres, created_at, updated_at"
)
_SPOTIFY_INDEX = "tracks_spotify_id_key"
_SPOTIFY_TAKEN = "another track of this organization has this Spotify id"


async def create_track(db: Executor, org_id: uuid.UUID, fields: NewTrack) -> Track:
    """Insert a track and return it. Raises ``Conflict("spotifyId", ...)`` when the organization already
    has a track with that Spotify id."""
    with raise_conflict_on(_SPOTIFY_INDEX, "spotifyId", _SPOTIFY_TAKEN):
        row = await db.fetchrow(
            "INSERT INTO tracks (organization_id, title, artist, album, release_date, duration_seconds,"
            " spotify_id, isrc, cover_art_url, genres)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_FIELDS}",
            org_id, fields.title, fields.artist, fields.album, fields.release_date, fields.duration,
            fields.spotify_id, fields.isrc, fields.cover_art_url, fields.genres,
        )  # fmt: skip
    assert row is not None  # INSERT ... RETURNING always returns its row
    return Track(**dict(row))


async def get_track(db: Executor, org_id: uuid.UUID, track_id: uuid.UUID) -> Track | None:
    """The track, or ``None`` when the organization has no such track."""
    row = await db.fetchrow(
        f"SELECT {_FIELDS} FROM tracks WHERE organization_id = $1 AND id = $2", org_id, track_id
    )
    return None if row is None else Track(**dict(row))


async def get_track_by_spotify_id(db: Executor, org_id: uuid.UUID, spotify_id: str) -> Track | None:
    """The organization's track with that Spotify id, or ``None``."""
    row = await db.fetchrow(
        f"SELECT {_FIELDS} FROM tracks WHERE organization_id = $1 AND spotify_id = $2", org_id, spotify_id
    )
    return None if row is None else Track(**dict(row))


async def upsert_spotify_track(db: Executor, org_id: uuid.UUID, fields: NewTrack) -> tuple[Track, bool]:
    """Create the track, or refresh the organization's track with the same Spotify id; returns the track
    and whether it was created.

    A refresh overwrites the title, artist and duration, and the other metadata only where ``fields`` has
    a value, so what Spotify omits (an ISRC in development mode, say) never erases what is stored.
    ``genres`` are set on creation only: they are the organization's tags, not Spotify's. One statement,
    so two concurrent syncs of one track end with one row. Raises ``ValueError`` without a Spotify id.
    """
    if fields.spotify_id is None:
        raise ValueError("upsert_spotify_track needs a spotify_id")
    # xmax is 0 on a row this statement inserted and the locking transaction's id on one it updated.
    row = await db.fetchrow(
        "INSERT INTO tracks AS t (organization_id, title, artist, album, release_date, duration_seconds,"
        " spotify_id, isrc, cover_art_url, genres) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (organization_id, spotify_id) WHERE spotify_id IS NOT NULL DO UPDATE SET"
        " title = EXCLUDED.title, artist = EXCLUDED.artist, duration_seconds = EXCLUDED.duration_seconds,"
        " album = COALESCE(EXCLUDED.album, t.album), release_date = COALESCE(EXCLUDED.release_date, t.release_date),"
        " isrc = COALESCE(EXCLUDED.isrc, t.isrc), cover_art_url = COALESCE(EXCLUDED.cover_art_url, t.cover_art_url),"
        f" updated_at = now() RETURNING {_FIELDS}, (xmax = 0) AS created",
        org_id, fields.title, fields.artist, fields.album, fields.release_date, fields.duration,
        fields.spotify_id, fields.isrc, fields.cover_art_url, fields.genres,
    )  # fmt: skip
    assert row is not None  # an upsert always returns its row
    values = dict(row)
    created = values.pop("created")
    return Track(**values), bool(created)


async def campaigns_of_track(db: Executor, org_id: uuid.UUID, track_id: uuid.UUID) -> list[LinkedCampaign]:
    """The organization's campaigns that promote the track (``campaigns.track_id``), newest first."""
    rows = await db.fetch(
        "SELECT id, name, status, start_date, end_date FROM campaigns WHERE organization_id = $1"
        " AND track_id = $2 ORDER BY created_at DESC, id DESC", org_id, track_id,
    )  # fmt: skip
    return [LinkedCampaign(**dict(row)) for row in rows]


async def list_tracks(
    db: Executor, org_id: uuid.UUID, *, search: str | None = None, limit: int = 20, offset: int = 0
) -> Page[Track]:
    """The organization's tracks, newest first (``id`` breaks ties, so pages never overlap).

    ``search`` keeps the tracks whose title or artist contains it, ignoring case; ``%`` and ``_`` in it
    match themselves. Raises ``ValueError`` for a negative ``limit`` or ``offset``.
    """
    check_window(limit, offset)
    where = Where(org_id)
    where.add("organization_id = $1")
    if search:
        pattern = where.param(like_pattern(search))
        where.add(f"(title ILIKE {pattern} ESCAPE '\\' OR artist ILIKE {pattern} ESCAPE '\\')")
    total = await count_rows(db, f"SELECT count(*) FROM tracks WHERE {where.sql()}", *where.args)
    rows = await db.fetch(
        f"SELECT {_FIELDS} FROM tracks WHERE {where.sql()} ORDER BY created_at DESC, id DESC"
        f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}",
        *where.args,
    )
    return page([Track(**dict(row)) for row in rows], total, limit, offset)


async def update_track(
    db: Executor, org_id: uuid.UUID, track_id: uuid.UUID, changes: Mapping[str, object]
) -> Track | None:
    """Set the fields in ``changes`` (keys from ``UPDATABLE_FIELDS``, e.g. ``duration``, ``spotify_id``)
    and return the track, or ``None`` when the organization has no such track.

    Raises ``ValueError`` for an unknown key and ``Conflict("spotifyId", ...)`` for a Spotify id that
    another of the organization's tracks has.
    """
    assignments, values = set_clause(changes, _COLUMNS, first_param=3)
    with raise_conflict_on(_SPOTIFY_INDEX, "spotifyId", _SPOTIFY_TAKEN):
        row = await db.fetchrow(
            f"UPDATE tracks SET {assignments} WHERE organization_id = $1 AND id = $2 RETURNING {_FIELDS}",
            org_id, track_id, *values,
        )  # fmt: skip
    return None if row is None else Track(**dict(row))


async def delete_track(db: Executor, org_id: uuid.UUID, track_id: uuid.UUID) -> bool:
    """Delete the track; ``False`` when the organization has no such track. Its campaigns stay, with no
    track (the foreign key sets theirs to NULL)."""
    status = await db.execute("DELETE FROM tracks WHERE organization_id = $1 AND id = $2", org_id, track_id)
    return status == "DELETE 1"
