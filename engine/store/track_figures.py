"""SQL for Spotify's daily figures of catalogue tracks (``track_figures``): popularity and the first
artist's followers, one row per track and UTC day, the latest observation of the day winning.

It stores what the Spotify label actor observed and reads it back within one organization; it does not
call Spotify. ``None`` is "Spotify did not say" (development mode removes both figures) and is stored as
NULL, never as 0.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

from engine.store.rows import Queries, as_struct, row_count

__all__ = ["Figures", "ObservedTrack", "figures_of", "last_observed_at", "record_figures", "tracks_to_observe"]


class ObservedTrack(msgspec.Struct, frozen=True, kw_only=True):
    """A catalogue track with a Spotify id: what the label actor reads figures for."""

    id: uuid.UUID
    spotify_id: str


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """One track's figures on one UTC day, as last observed that day."""

    track_id: uuid.UUID
    day: date
    popularity: int | None
    artist_followers: int | None
    observed_at: datetime


async def tracks_to_observe(q: Queries, org_id: uuid.UUID) -> list[ObservedTrack]:
    """The organization's tracks that have a Spotify id, oldest first (a stable polling order)."""
    rows = await q.fetch("SELECT id, spotify_id FROM tracks WHERE organization_id = $1 AND spotify_id IS NOT NULL"
                         " ORDER BY created_at, id", org_id)
    return [as_struct(row, ObservedTrack) for row in rows]


async def record_figures(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, *, popularity: int | None,
                         artist_followers: int | None, observed_at: datetime) -> bool:
    """Store the figures observed at ``observed_at`` (timezone-aware) under its UTC day.

    A row of the same track and day is replaced, unless it was observed later than this one (a slow poll
    finishing after a newer one must not win). Returns False when nothing was stored: the track is not
    the organization's (or is gone), or a later observation of the day is already there.
    """
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    status = await q.execute(
        "INSERT INTO track_figures AS f (track_id, organization_id, day, popularity, artist_followers, observed_at)"
        " SELECT id, organization_id, (($3::timestamptz) AT TIME ZONE 'UTC')::date, $4, $5, $3"
        " FROM tracks WHERE id = $2 AND organization_id = $1"
        " ON CONFLICT (track_id, day) DO UPDATE SET popularity = EXCLUDED.popularity,"
        " artist_followers = EXCLUDED.artist_followers, observed_at = EXCLUDED.observed_at"
        " WHERE f.observed_at <= EXCLUDED.observed_at",
        org_id, track_id, observed_at, popularity, artist_followers)
    return row_count(status) == 1


async def figures_of(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, *, since: date | None = None,
                     until: date | None = None) -> list[Figures]:
    """The track's daily figures from ``since`` to ``until`` (inclusive, either open), oldest day first;
    empty for another organization's track."""
    rows = await q.fetch(
        "SELECT track_id, day, popularity, artist_followers, observed_at FROM track_figures"
        " WHERE organization_id = $1 AND track_id = $2 AND ($3::date IS NULL OR day >= $3)"
        " AND ($4::date IS NULL OR day <= $4) ORDER BY day", org_id, track_id, since, until)
    return [as_struct(row, Figures) for row in rows]


async def last_observed_at(q: Queries, org_id: uuid.UUID) -> datetime | None:
    """The newest observation of any of the organization's tracks, or ``None`` if there is none."""
    value = await q.fetchval("SELECT max(observed_at) FROM track_figures WHERE organization_id = $1", org_id)
    return value if isinstance(value, datetime) else None
