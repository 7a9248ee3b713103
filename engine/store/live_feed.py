"""SQL a live feed reads back after ``engine.store.stream_events.ingest`` NOTIFYs: each track's sequence
head, the events after a seq (the resume history), and the live counts per country.

Reading is apart from writing so that an event's path is forward only: the API ingests through
``stream_events``, the LiveHub reads through this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from engine.store.rows import Queries, as_struct

__all__ = ["Counts", "StoredEvent", "TrackHead", "counts", "ensure_head", "events_after", "heads"]


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    track_id: uuid.UUID
    seq: int
    platform: str
    country: str
    occurred_at: datetime
    received_at: datetime


class TrackHead(msgspec.Struct, frozen=True, kw_only=True):
    """Where a track's sequence stands: ``last_seq`` is the seq of its newest event (0: none yet)."""

    track_id: uuid.UUID
    organization_id: uuid.UUID
    epoch: str
    last_seq: int


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """A track's streams since ``since`` (by event time, whole five-minute buckets), as of ``seq``."""

    track_id: uuid.UUID
    seq: int
    streams: int
    countries: dict[str, int]


async def heads(q: Queries, track_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TrackHead]:
    """The sequence heads of the tracks that have had an event."""
    rows = await q.fetch("SELECT track_id, organization_id, epoch, last_seq FROM live_tracks"
                         " WHERE track_id = ANY($1::uuid[])", list(track_ids))
    return {row["track_id"]: as_struct(row, TrackHead) for row in rows}


async def ensure_head(q: Queries, organization_id: uuid.UUID, track_id: uuid.UUID) -> TrackHead | None:
    """The track's sequence head, made (at seq 0, with a new epoch) if it has none yet; ``None`` if the
    track is not the organization's."""
    row = await q.fetchrow(
        "WITH made AS (INSERT INTO live_tracks (track_id, organization_id, epoch)"
        " SELECT id, organization_id, substr(md5(random()::text || id::text), 1, 12) FROM tracks"
        " WHERE id = $2 AND organization_id = $1 ON CONFLICT (track_id) DO NOTHING"
        " RETURNING track_id, organization_id, epoch, last_seq)"
        " SELECT * FROM made UNION ALL SELECT track_id, organization_id, epoch, last_seq FROM live_tracks"
        " WHERE track_id = $2 AND organization_id = $1", organization_id, track_id)
    if row is None:
        # A concurrent first subscriber made the row after our statement's snapshot: read it now.
        row = await q.fetchrow("SELECT track_id, organization_id, epoch, last_seq FROM live_tracks"
                               " WHERE track_id = $2 AND organization_id = $1", organization_id, track_id)
    return None if row is None else as_struct(row, TrackHead)


async def events_after(q: Queries, track_id: uuid.UUID, after: int, *, limit: int) -> list[StoredEvent]:
    """The track's events with a seq above ``after``, in seq order, at most ``limit``."""
    rows = await q.fetch(
        "SELECT track_id, seq, platform, country, occurred_at, received_at FROM stream_events"
        " WHERE track_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", track_id, after, limit)
    return [as_struct(row, StoredEvent) for row in rows]


async def counts(q: Queries, track_ids: Sequence[uuid.UUID], *, since: datetime) -> list[Counts]:
    """Streams per country of each track (that has had an event) in the buckets from ``since``'s on, with
    the seq they include: one statement, so the figures and the seq are of the same moment."""
    rows = await q.fetch(
        "SELECT h.track_id, h.last_seq AS seq, b.country, b.streams FROM live_tracks h"
        " LEFT JOIN stream_buckets b ON b.track_id = h.track_id"
        " AND b.bucket_start >= date_bin('5 minutes', $2::timestamptz, TIMESTAMPTZ 'epoch')"
        " WHERE h.track_id = ANY($1::uuid[])", list(track_ids), since)
    grouped: dict[uuid.UUID, tuple[int, dict[str, int]]] = {}
    for row in rows:
        _, countries = grouped.setdefault(row["track_id"], (row["seq"], {}))
        if row["country"] is not None:
            countries[row["country"]] = countries.get(row["country"], 0) + row["streams"]
    return [Counts(track_id=track, seq=seq, streams=sum(countries.values()), countries=dict(sorted(countries.items())))
            for track, (seq, countries) in grouped.items()]
