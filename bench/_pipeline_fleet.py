"""The fleet rows of the pipeline benchmark: 2 or 3 engine processes (bench/_pipeline_engine.py) sharing the
same accounts through their leases, with short lease timings (TTL ``FLEET_TTL``, renewed every
``FLEET_RENEW`` seconds), measured as one-process rows are (bench/_pipeline_real.py), then one of them killed.

Figures: how long until the accounts are shared at a fair share each and every actor finished a cycle;
per process, polls/s and the poll lag's p50/p99 over the window; lease renewals/s over the window (updates
of ``engine_leases`` counted by PostgreSQL, ``pg_stat_user_tables.n_tup_upd``: renewals, plus claims, which
a settled fleet makes none of); after a SIGKILL of the first process, the seconds until the survivors hold
every lease and until their actors have all finished a cycle (the killed process's accounts polled again).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import trio

from bench._pipeline_real import START_TIMEOUT, EngineProcess, Labels, Window, wait_until
from engine.store import open_database

__all__ = ["FLEET_RENEW", "FLEET_TTL", "FleetRow", "fleet_row"]

FLEET_TTL, FLEET_RENEW = 6.0, 2.0


@dataclass(frozen=True)
class FleetRow:
    accounts: int
    settle_s: float  # from the start until every account is held at a fair share and has finished a cycle
    windows: list[Window]
    renewals: float  # per second, every process's
    killed_held: int
    claimed_s: float  # from the SIGKILL until the survivors hold every lease
    covered_s: float  # from the SIGKILL until the survivors' actors have all finished a cycle


def _lease_updates(dsn: str) -> int:
    async def read() -> int:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            value = await db.fetchval("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'engine_leases'")
        return int(value or 0)

    return trio.run(read)


def fleet_row(labels: Labels, url: str, processes: int, seconds: float, interval: float, root: Path) -> FleetRow:
    """``processes`` engine processes sharing the ``labels.count`` accounts set up, measured over
    ``max(seconds, interval)``, then the first one killed."""
    accounts, share = labels.count, math.ceil(labels.count / processes)
    engines = [EngineProcess.start(labels, url, interval, root, f"fleet-{processes}-{n}", FLEET_TTL, FLEET_RENEW)
               for n in range(processes)]
    try:
        settle = wait_until(engines, lambda rs: sum(r.polled for r in rs) >= accounts
                            and max(r.held for r in rs) <= share, START_TIMEOUT)
        updates, started = _lease_updates(labels.dsn), time.monotonic()
        windows = Window.over(engines, max(seconds, interval))
        renewals = (_lease_updates(labels.dsn) - updates) / (time.monotonic() - started)
        victim, survivors = engines[0], engines[1:]
        killed = windows[0].last.held
        victim.kill()
        claimed = wait_until(survivors, lambda rs: sum(r.held for r in rs) >= accounts, START_TIMEOUT)
        covered = claimed + wait_until(survivors, lambda rs: sum(r.polled for r in rs) >= accounts, START_TIMEOUT)
    finally:
        for engine in engines:
            engine.stop()
    return FleetRow(accounts, settle, windows, renewals, killed, claimed, covered)
