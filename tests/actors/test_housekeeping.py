"""The housekeeper prunes closed rate-limit windows and keeps the live ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio

from actors import Housekeeper
from engine.store.accounts import hit_counter
from engine.store.database import Database


async def test_old_windows_go_and_current_ones_stay(db: Database) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    await hit_counter(db, "org:a", now - timedelta(days=3))
    await hit_counter(db, "org:a", now - timedelta(hours=1))
    async with trio.open_nursery() as nursery:
        await nursery.start(Housekeeper(db, interval=3600, wall=lambda: now).run)  # after its first sweep
        nursery.cancel_scope.cancel()
    assert await db.fetchval("SELECT window_start FROM rate_limit_counters") == now - timedelta(hours=1)
