"""The housekeeper: deletes what has stopped mattering so tables do not grow
forever — rate-limit windows long closed.

It runs once at start and then every ``interval`` seconds; a database error
crashes it and its supervisor restarts it with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import trio

from engine.store.accounts import prune_counters
from engine.store.database import Database

__all__ = ["Housekeeper"]

log = logging.getLogger(__name__)

# The longest rate-limit window is a day (the auth attempt window's upper bound); anything
# that started before two days ago can no longer count against anyone.
_COUNTER_RETENTION = timedelta(days=2)


class Housekeeper:
    def __init__(
        self, db: Database, *, interval: float = 3600.0,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db, self._interval, self._wall = db, interval, wall

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reports started after the first sweep; then sweeps every ``interval`` seconds, forever."""
        await self._sweep()
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            await self._sweep()

    async def _sweep(self) -> None:
        removed = await prune_counters(self._db, self._wall() - _COUNTER_RETENTION)
        if removed:
            log.info("pruned %d closed rate-limit windows", removed)
