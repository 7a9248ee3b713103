"""SQL for live stream events: ingest with a per-track sequence, the realtime buckets, the changed days
the engine turns into ``streams`` samples, and pruning. What a live feed reads back (the sequence heads,
the events after a seq, live counts) is ``engine.store.live_feed``'s.

An event is keyed by (organization, event id), so sending it again stores nothing and counts nothing.
``ingest`` runs in one transaction: it locks the touched tracks' ``live_tracks`` rows (in id order, so two
batches cannot deadlock), gives each new event the next ``seq`` of its track, adds it to the five-minute
buckets and the daily rollup, and NOTIFYs ``stream_events`` with each touched track's id. The NOTIFY is
only a wake-up: readers re-read ``live_tracks`` and the events after the seq they have.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import msgspec

from engine.store.catalog_common import NotFound, atomic
from engine.store.rows import Queries, as_struct

__all__ = [
    "BUCKET",
    "HISTORY",
    "MAX_AGE",
    "MAX_AHEAD",
    "STREAM_EVENTS_CHANNEL",
    "Bucket",
    "CampaignDay",
    "ChangedDay",
    "IngestResult",
    "NewEvent",
    "campaign_days",
    "changed_days",
    "ingest",
    "known_tracks",
    "prune",
    "realtime",
]

STREAM_EVENTS_CHANNEL = "stream_events"
BUCKET = timedelta(minutes=5)
# Raw events and five-minute buckets are kept this long; an event may be this old at most when it
# arrives (MAX_AGE), so its id is remembered as long as it can be sent again.
HISTORY = timedelta(days=8)
MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(minutes=5)  # clocks differ; an event further in the future is a mistake


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to store; its fields are checked by the caller (the API, an actor)."""

    event_id: str
    track_id: uuid.UUID
    platform: str
    country: str
    occurred_at: datetime  # timezone-aware


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    """``accepted`` events were new; ``duplicates`` had an id already stored (or repeated in the batch)."""

    accepted: int
    duplicates: int


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    streams: int
    countries: dict[str, int]


class ChangedDay(msgspec.Struct, frozen=True, kw_only=True):
    """A track's whole-day streams (every country and platform) on a UTC day whose rollup changed."""

    organization_id: uuid.UUID
    track_id: uuid.UUID
    day: date
    streams: int
    updated_at: datetime


class CampaignDay(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign whose ``streams`` count the track's whole UTC day."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    track_id: uuid.UUID
    day: date


async def known_tracks(q: Queries, organization_id: uuid.UUID, track_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``track_ids`` are tracks of the organization."""
    rows = await q.fetch("SELECT id FROM tracks WHERE organization_id = $1 AND id = ANY($2::uuid[])",
                         organization_id, list(set(track_ids)))
    return {row["id"] for row in rows}


async def ingest(q: Queries, organization_id: uuid.UUID, events: Sequence[NewEvent], *,
                 received_at: datetime) -> IngestResult:
    """Store the events that are new, in one transaction. Raises ``NotFound("trackId")`` if a track is not
    the organization's (nothing is stored then)."""
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return IngestResult(accepted=0, duplicates=len(events))
    track_ids = sorted({event.track_id for event in unique.values()})
    async with atomic(q) as conn:
        # The upsert locks each track's row until commit, so seqs are handed out one batch at a time.
        rows = await conn.fetch(
            "INSERT INTO live_tracks (track_id, organization_id, epoch)"
            " SELECT t.id, t.organization_id, substr(md5(random()::text || t.id::text), 1, 12)"
            " FROM tracks t WHERE t.organization_id = $1 AND t.id = ANY($2::uuid[]) ORDER BY t.id"
            " ON CONFLICT (track_id) DO UPDATE SET last_seq = live_tracks.last_seq"
            " RETURNING track_id, last_seq", organization_id, track_ids)
        last = {row["track_id"]: row["last_seq"] for row in rows}
        if len(last) != len(track_ids):
            missing = next(track for track in track_ids if track not in last)
            raise NotFound("trackId", f"track {missing} does not exist in this organization")
        stored = await conn.fetch(
            "SELECT event_id FROM stream_events WHERE organization_id = $1 AND event_id = ANY($2::text[])",
            organization_id, list(unique))
        for row in stored:
            del unique[row["event_id"]]
        new = sorted(unique.values(), key=lambda e: (e.track_id, e.occurred_at, e.event_id))
        seqs = []
        for event in new:
            last[event.track_id] += 1
            seqs.append(last[event.track_id])
        if new:
            await conn.execute(_INSERT, organization_id, [e.event_id for e in new], [e.track_id for e in new],
                               seqs, [e.platform for e in new], [e.country for e in new],
                               [e.occurred_at for e in new], received_at)
            touched = sorted({event.track_id for event in new})
            await conn.execute(
                "UPDATE live_tracks SET last_seq = v.seq FROM unnest($1::uuid[], $2::bigint[]) AS v(track, seq)"
                " WHERE live_tracks.track_id = v.track", touched, [last[track] for track in touched])
            for track in touched:
                await conn.execute("SELECT pg_notify($1, $2)", STREAM_EVENTS_CHANNEL, str(track))
    return IngestResult(accepted=len(new), duplicates=len(events) - len(new))


# One statement: the events, then the rollups of exactly the rows inserted (a concurrent batch that
# stored the same id first makes ours skip it, and count it nowhere).
_INSERT = """
WITH ins AS (
    INSERT INTO stream_events (organization_id, event_id, track_id, seq, platform, country, occurred_at, received_at)
    SELECT $1, e.id, e.track, e.seq, e.platform, e.country, e.at, $8
    FROM unnest($2::text[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[])
        AS e(id, track, seq, platform, country, at)
    ON CONFLICT DO NOTHING
    RETURNING track_id, platform, country, occurred_at
), buckets AS (
    INSERT INTO stream_buckets (track_id, bucket_start, country, streams)
    SELECT track_id, date_bin('5 minutes', occurred_at, TIMESTAMPTZ 'epoch'), country, count(*)
    FROM ins GROUP BY 1, 2, 3
    ON CONFLICT (track_id, bucket_start, country) DO UPDATE SET streams = stream_buckets.streams + EXCLUDED.streams
)
INSERT INTO stream_days (track_id, day, country, platform, streams, updated_at)
SELECT track_id, (occurred_at AT TIME ZONE 'UTC')::date, country, platform, count(*), clock_timestamp()
FROM ins GROUP BY 1, 2, 3, 4
ON CONFLICT (track_id, day, country, platform)
DO UPDATE SET streams = stream_days.streams + EXCLUDED.streams, updated_at = EXCLUDED.updated_at
"""


async def realtime(q: Queries, track_id: uuid.UUID, *, width: timedelta, since: datetime,
                   until: datetime) -> list[Bucket]:
    """Streams per ``width`` bucket (a multiple of five minutes, aligned to the Unix epoch) from the bucket
    holding ``since`` up to ``until``, oldest first; buckets without streams are included as zeros."""
    step = int(width.total_seconds())
    rows = await q.fetch(
        "SELECT date_bin($2::interval, bucket_start, TIMESTAMPTZ 'epoch') AS start, country,"
        " sum(streams)::bigint AS n"  # sum(bigint) is numeric, which the driver returns as Decimal
        " FROM stream_buckets WHERE track_id = $1"
        " AND bucket_start >= date_bin($2::interval, $3::timestamptz, TIMESTAMPTZ 'epoch') AND bucket_start < $4"
        " GROUP BY 1, 2", track_id, width, since, until)
    by_start: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_start[row["start"]][row["country"]] = row["n"]
    first = datetime.fromtimestamp(since.timestamp() // step * step, since.tzinfo)
    buckets = []
    start = first
    while start < until:
        countries = dict(sorted(by_start.get(start, {}).items(), key=lambda item: (-item[1], item[0])))
        buckets.append(Bucket(start=start, streams=sum(countries.values()), countries=countries))
        start += width
    return buckets


async def changed_days(q: Queries, *, since: datetime, limit: int = 1000) -> list[ChangedDay]:
    """Whole-day streams (``track_day_streams``: a stream report's figure where one exists, else the
    events') of the (track, day) pairs whose events rollup or report changed at or after ``since``,
    oldest change first."""
    rows = await q.fetch(
        "WITH changed AS (SELECT track_id, day, max(updated_at) AS updated_at FROM ("
        " SELECT track_id, day, updated_at FROM stream_days WHERE updated_at >= $1"
        " UNION ALL SELECT track_id, day, updated_at FROM track_report_days WHERE updated_at >= $1) u"
        " GROUP BY 1, 2 ORDER BY 3 LIMIT $2)"
        " SELECT t.organization_id, c.track_id, c.day, c.updated_at, coalesce((SELECT v.streams"
        " FROM track_day_streams v WHERE v.track_id = c.track_id AND v.day = c.day), 0)::bigint AS streams"
        " FROM changed c JOIN tracks t ON t.id = c.track_id ORDER BY c.updated_at", since, limit)
    return [as_struct(row, ChangedDay) for row in rows]


async def campaign_days(q: Queries, days: Sequence[ChangedDay]) -> list[CampaignDay]:
    """For each changed day, the campaigns of its organization and track whose start and end dates, taken
    as UTC days, contain it (both ends included), by day then campaign."""
    rows = await q.fetch(
        "SELECT c.organization_id, c.id AS campaign_id, d.track_id, d.day"
        " FROM unnest($1::uuid[], $2::uuid[], $3::date[]) AS d(organization_id, track_id, day)"
        " JOIN campaigns c ON c.track_id = d.track_id AND c.organization_id = d.organization_id"
        " AND d.day BETWEEN (c.start_date AT TIME ZONE 'UTC')::date AND (c.end_date AT TIME ZONE 'UTC')::date"
        " ORDER BY d.day, c.id", [d.organization_id for d in days], [d.track_id for d in days],
        [d.day for d in days])
    return [as_struct(row, CampaignDay) for row in rows]


async def prune(q: Queries, *, now: datetime, batch: int = 10_000) -> int:
    """Delete raw events and five-minute buckets older than ``HISTORY`` (a batch of each); returns how many
    rows went. The daily rollup stays."""
    cutoff = now - HISTORY
    events = await q.execute(
        "DELETE FROM stream_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM stream_events"
        " WHERE received_at < $1 LIMIT $2))", cutoff, batch)
    buckets = await q.execute(
        "DELETE FROM stream_buckets WHERE ctid = ANY(ARRAY(SELECT ctid FROM stream_buckets"
        " WHERE bucket_start < $1 LIMIT $2))", cutoff, batch)
    return int(events.split()[-1]) + int(buckets.split()[-1])
