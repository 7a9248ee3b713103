"""The stream counter against a real database and the real aggregator: stream events go in through
``stream_events.ingest``; the ``streams`` facts and totals of the right campaigns come out.

Rules: real time (the database answers from another thread, so no autojump); the counter polls only every
60 s unless a test says otherwise, so what arrives sooner came through the NOTIFY. Every wait has a
deadline (``_until``). Event times are fixed days in 2026; what the counter reads is when rollups changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import trio

from actors.aggregator import Aggregator
from actors.stream_counter import SOURCE, StreamCounter
from config.sections import AlertsSettings
from engine.store import Database
from engine.store import imports as imports_store
from engine.store import stream_events as events_store
from tests.helpers.factories import create_campaign, create_org, create_track

D1 = date(2026, 9, 1)
Facts = dict[tuple[uuid.UUID, date], int]


def _day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def _ingest(db: Database, org: uuid.UUID, track: uuid.UUID, day: date, n: int, *, hour: int = 12) -> None:
    events = [events_store.NewEvent(event_id=str(uuid.uuid4()), track_id=track, platform="spotify", country="SE",
                                    occurred_at=_at(day, hour)) for _ in range(n)]
    await events_store.ingest(db, org, events, received_at=datetime.now(UTC))


async def _facts(db: Database) -> Facts:
    rows = await db.fetch("SELECT campaign_id, day, value FROM campaign_daily_facts WHERE metric = 'streams'"
                          " AND source = $1", SOURCE)
    return {(row["campaign_id"], row["day"]): row["value"] for row in rows}


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    with trio.fail_after(seconds):
        while True:  # the facts come from another thread's database writes: nothing to wait on but time
            if await check():
                return
            await trio.sleep(0.05)


async def _settled(db: Database, expected: Facts) -> None:
    """Wait for exactly ``expected``, then give a stray sample time to show up (none may)."""

    async def reached() -> bool:
        return await _facts(db) == expected

    await _until(reached)
    await trio.sleep(0.3)
    assert await _facts(db) == expected


@asynccontextmanager
async def _running(db: Database, **options: float) -> AsyncIterator[StreamCounter]:
    """The aggregator and a counter wired as the runtime wires them, until the block ends."""
    aggregator = Aggregator(db, AlertsSettings())
    samples = aggregator.sender()
    options = {"poll_interval": 60.0, "min_gap": 0.0} | options
    counter = StreamCounter(db, samples, poll_interval=options["poll_interval"], min_gap=options["min_gap"],
                            page=int(options.get("page", 1000)))
    async with trio.open_nursery() as nursery:
        await nursery.start(aggregator.run)
        await nursery.start(counter.run)
        yield counter
        nursery.cancel_scope.cancel()


async def test_events_count_for_the_campaigns_of_their_track_on_the_days_they_run(db: Database) -> None:
    org, theirs = await create_org(db), await create_org(db)
    single, other, their_track = [await create_track(db, owner) for owner in (org, org, theirs)]
    # Dates are compared as UTC days: 10:00 on day 1 to 10:00 on day 3 runs on days 1, 2 and 3.
    first = await create_campaign(db, org, track_id=single, start=_at(_day(1), 10), end=_at(_day(3), 10))
    # The same track, later:
    second = await create_campaign(db, org, track_id=single, start=_at(_day(3)), end=_at(_day(9)))
    b_side = await create_campaign(db, org, track_id=other, start=_at(_day(1)), end=_at(_day(30)))
    foreign = await create_campaign(db, theirs, track_id=their_track, start=_at(_day(1)), end=_at(_day(30)))
    async with _running(db, page=2):  # small pages: the counter must page through them
        await _ingest(db, org, single, _day(0), 2)  # before both campaigns of the track
        await _ingest(db, org, single, _day(1), 3, hour=8)  # before the start time, on the start day
        await _ingest(db, org, single, _day(3), 1, hour=23)  # after the end time, on the end day
        await _ingest(db, org, single, _day(4), 2)
        await _ingest(db, org, single, _day(12), 4)  # after both
        await _ingest(db, org, other, _day(1), 5)
        await _ingest(db, theirs, their_track, _day(1), 7)
        await _settled(db, {(first, _day(1)): 3, (first, _day(3)): 1, (second, _day(3)): 1, (second, _day(4)): 2,
                            (b_side, _day(1)): 5, (foreign, _day(1)): 7})
    totals = await db.fetch("SELECT id, streams FROM campaigns")
    assert {row["id"]: row["streams"] for row in totals} == {first: 4, second: 3, b_side: 5, foreign: 7}
    observed = await db.fetchval("SELECT observed_at FROM campaign_daily_facts WHERE campaign_id = $1", b_side)
    changed = await db.fetchval("SELECT max(updated_at) FROM stream_days WHERE track_id = $1", other)
    assert observed == changed  # a sample is observed when its rollup changed


async def test_more_events_on_a_day_replace_its_figure(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    campaign = await create_campaign(db, org, track_id=track, start=_at(_day(1)), end=_at(_day(30)))
    async with _running(db):
        await _ingest(db, org, track, _day(1), 3)
        await _settled(db, {(campaign, _day(1)): 3})
        await _ingest(db, org, track, _day(1), 2)
        await _ingest(db, org, track, _day(2), 1)
        await _settled(db, {(campaign, _day(1)): 5, (campaign, _day(2)): 1})
    assert await db.fetchval("SELECT streams FROM campaigns WHERE id = $1", campaign) == 6


async def test_a_restarted_counter_counts_what_came_while_it_was_stopped(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    campaign = await create_campaign(db, org, track_id=track, start=_at(_day(1)), end=_at(_day(30)))
    async with _running(db):
        await _ingest(db, org, track, _day(1), 2)
        await _settled(db, {(campaign, _day(1)): 2})
    await _ingest(db, org, track, _day(1), 3)
    await _ingest(db, org, track, _day(2), 4)
    # All of that an hour ago, so the restart is not helped by re-reading the last seconds (OVERLAP).
    await db.execute("UPDATE stream_days SET updated_at = updated_at - interval '1 hour'")
    await db.execute("UPDATE campaign_daily_facts SET observed_at = observed_at - interval '1 hour'")
    async with _running(db):  # a new process: nothing in memory, no NOTIFY of what came before it
        await _settled(db, {(campaign, _day(1)): 5, (campaign, _day(2)): 4})


async def test_a_first_start_reads_back_the_event_history_and_never_loops_on_one_instant(db: Database) -> None:
    org = await create_org(db)
    tracks = [await create_track(db, org) for _ in range(4)]
    campaigns = [await create_campaign(db, org, track_id=track, start=_at(_day(1)), end=_at(_day(30)))
                 for track in tracks]
    for track in tracks:
        await _ingest(db, org, track, _day(1), 1)
    now = datetime.now(UTC)
    # Three rollups changed at one instant a week ago (more than a page of two), one beyond the history.
    await db.execute("UPDATE stream_days SET updated_at = $1 WHERE track_id = ANY($2::uuid[])",
                     now - timedelta(days=7), tracks[:3])
    await db.execute("UPDATE stream_days SET updated_at = $1 WHERE track_id = $2",
                     now - events_store.HISTORY - timedelta(hours=1), tracks[3])
    async with _running(db, page=2):
        await _settled(db, {(campaign, _day(1)): 1 for campaign in campaigns[:3]})


async def test_a_report_day_replaces_the_events_of_its_day_and_wakes_the_counter(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    campaign = await create_campaign(db, org, track_id=track, start=_at(_day(1)), end=_at(_day(30)))
    async with _running(db):  # polls every 60 s: what arrives sooner came through a NOTIFY
        await _ingest(db, org, track, _day(1), 3)
        await _ingest(db, org, track, _day(2), 4)
        await _settled(db, {(campaign, _day(1)): 3, (campaign, _day(2)): 4})
        # Spotify for Artists counted the whole of day 1 (our events saw only part of it) and day 3.
        await imports_store.upsert_track_days(db, org, None, "s4a", [
            imports_store.TrackDay(track_id=track, day=_day(1), streams=120),
            imports_store.TrackDay(track_id=track, day=_day(3), streams=0)])
        await _settled(db, {(campaign, _day(1)): 120, (campaign, _day(2)): 4, (campaign, _day(3)): 0})
        await _ingest(db, org, track, _day(1), 2)  # more events of a reported day change nothing
        await _settled(db, {(campaign, _day(1)): 120, (campaign, _day(2)): 4, (campaign, _day(3)): 0})
    assert await db.fetchval("SELECT streams FROM campaigns WHERE id = $1", campaign) == 124
