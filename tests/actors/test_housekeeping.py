"""The housekeeper prunes closed rate-limit windows, old stream events, expired exports and audit rows past
their retention, and keeps the live ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import trio
import trio.testing

from actors import Housekeeper
from engine.store import report_exports, stream_events
from engine.store.accounts import hit_counter
from engine.store.database import Database
from tests.helpers.factories import create_org, create_track


async def test_old_windows_go_and_current_ones_stay(db: Database) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    await hit_counter(db, "org:a", now - timedelta(days=3))
    await hit_counter(db, "org:a", now - timedelta(hours=1))
    async with trio.open_nursery() as nursery:
        await nursery.start(Housekeeper(db, interval=3600, wall=lambda: now).run)  # after its first sweep
        nursery.cancel_scope.cancel()
    assert await db.fetchval("SELECT window_start FROM rate_limit_counters") == now - timedelta(hours=1)


async def test_stream_events_past_their_history_go_in_batches_and_the_daily_rollup_stays(db: Database) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    org = await create_org(db)
    track = await create_track(db, org)

    def events(prefix: str, n: int, at: datetime) -> list[stream_events.NewEvent]:
        return [stream_events.NewEvent(event_id=f"{prefix}{i}", track_id=track, platform="spotify", country="SE",
                                       occurred_at=at + timedelta(minutes=5 * i)) for i in range(n)]

    old = now - stream_events.HISTORY - timedelta(days=1)
    await stream_events.ingest(db, org, events("old", 5, old), received_at=old)
    await stream_events.ingest(db, org, events("new", 1, now), received_at=now)
    async with trio.open_nursery() as nursery:
        # Batches of two: five old events and five buckets take more than one, all in the first sweep.
        await nursery.start(Housekeeper(db, interval=3600, wall=lambda: now, prune_batch=2).run)
        nursery.cancel_scope.cancel()
    assert await db.fetchval("SELECT array_agg(event_id) FROM stream_events") == ["new0"]
    assert await db.fetchval("SELECT count(*) FROM stream_buckets") == 1
    assert await db.fetchval("SELECT sum(streams) FROM stream_days") == 6


async def test_exports_whose_links_expired_are_deleted(db: Database) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    org = await create_org(db)
    for day, expires in ((1, now - timedelta(seconds=1)), (2, now + timedelta(hours=1))):
        made = await report_exports.create_export(db, org, report_exports.NewExport(
            kind="daily", campaign_id=None, format="csv", granularity="day", period_start=date(2026, 11, day),
            period_end=date(2026, 11, day), filename="daily.csv", expires_at=expires), None)
        assert made is not None
    async with trio.open_nursery() as nursery:
        await nursery.start(Housekeeper(db, interval=3600, wall=lambda: now).run)
        nursery.cancel_scope.cancel()
    assert await db.fetchval("SELECT period_start FROM report_exports") == date(2026, 11, 2)


async def test_audit_rows_past_their_retention_go_in_batches_at_each_sweep(
    db: Database, mock_clock: trio.testing.MockClock,
) -> None:
    wall = [datetime(2026, 11, 22, 12, tzinfo=UTC)]
    org = await create_org(db)
    for days in (400, 390, 380, 10):
        await db.execute("INSERT INTO audit_log (organization_id, occurred_at, actor_type, action, object_type,"
                         " source) VALUES ($1, $2, 'system', 'campaign.updated', 'campaign', 'guardrail')",
                         org, wall[0] - timedelta(days=days))
    keeper = Housekeeper(db, interval=3600, wall=lambda: wall[0], prune_batch=2, audit_retention=timedelta(days=365))
    async with trio.open_nursery() as nursery:
        await nursery.start(keeper.run)  # batches of two: the three old rows all go in the first sweep
        assert await db.fetchval("SELECT count(*) FROM audit_log") == 1
        wall[0] += timedelta(days=360)
        mock_clock.jump(3600)  # the next sweep deletes the last one, aged past the retention meanwhile
        for _ in range(1000):  # polled on the database, not the clock: the sweep waits on its thread
            if not await db.fetchval("SELECT count(*) FROM audit_log"):
                break
        nursery.cancel_scope.cancel()
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0
