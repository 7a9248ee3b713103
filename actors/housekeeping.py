"""The housekeeper: deletes what has stopped mattering so tables do not grow
forever — rate-limit windows long closed, raw stream events and their
five-minute buckets past ``stream_events.HISTORY`` (the daily rollup stays),
exported reports whose signed links have expired, audit log rows past their retention.

It runs once at start and then every ``interval`` seconds; a database error
crashes it and its supervisor restarts it with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import trio

from engine.clock import utc_now
from engine.store import audit_log, report_exports, stream_events
from engine.store.accounts import prune_counters
from engine.store.database import Database

__all__ = ["Housekeeper"]

log = logging.getLogger(__name__)

# The longest rate-limit window is a day (the auth attempt window's upper bound); anything
# that started before two days ago can no longer count against anyone.
_COUNTER_RETENTION = timedelta(days=2)
# Stream events and audit rows are pruned in batches (``prune_batch``), each its own short statement, so a
# backlog never holds long locks; past this many batches in one sweep we leave the rest to the next sweep.
_MAX_EVENT_BATCHES = 100


class Housekeeper:
    def __init__(
        self, db: Database, *, interval: float = 3600.0,
        wall: Callable[[], datetime] = utc_now, prune_batch: int = 10_000,
        audit_retention: timedelta = timedelta(days=365),
    ) -> None:
        self._db, self._interval, self._wall, self._prune_batch = db, interval, wall, prune_batch
        self._audit_retention = audit_retention

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reports started after the first sweep; then sweeps every ``interval`` seconds, forever."""
        await self._sweep()
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            await self._sweep()

    async def _sweep(self) -> None:
        now = self._wall()
        removed = await prune_counters(self._db, now - _COUNTER_RETENTION)
        if removed:
            log.info("pruned %d closed rate-limit windows", removed)
        await self._prune_stream_events(now)
        await self._prune_audit_log(now)
        exports = await report_exports.prune_expired(self._db, now=now)
        if exports:
            log.info("deleted %d exported reports whose links had expired", exports)

    async def _prune_stream_events(self, now: datetime) -> None:
        # A batch is up to prune_batch events plus as many buckets: fewer in all means both are done.
        removed = await self._in_batches(lambda: stream_events.prune(self._db, now=now, batch=self._prune_batch))
        if removed:
            log.info("pruned %d stream events and five-minute buckets", removed)

    async def _prune_audit_log(self, now: datetime) -> None:
        cutoff = now - self._audit_retention
        removed = await self._in_batches(lambda: audit_log.delete_before(self._db, cutoff, batch=self._prune_batch))
        if removed:
            log.info("deleted %d audit log rows past their retention", removed)

    async def _in_batches(self, prune: Callable[[], Awaitable[int]]) -> int:
        """Call ``prune`` (one short statement deleting at most ``prune_batch`` rows) until it deletes fewer,
        or ``_MAX_EVENT_BATCHES`` times (the rest waits for the next sweep); returns how many it deleted."""
        removed = 0
        for _ in range(_MAX_EVENT_BATCHES):
            batch = await prune()
            removed += batch
            if batch < self._prune_batch:
                break
        return removed
