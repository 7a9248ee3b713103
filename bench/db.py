"""Benchmark: statements/s through ``engine.store.Database`` (trio + the asyncio thread) against native
asyncpg on a uvloop loop, with one connection and with a pool of 8 shared by 16 tasks.

Usage: .venv/bin/python bench/db.py [--seconds S] [--rounds R] [--dsn DSN]

Without --dsn it starts a throwaway embedded PostgreSQL (fsync off) in a temp dir. Each row runs our
stack and native asyncpg for S seconds each, in R alternating rounds of S/R seconds (ours first in odd
rounds, native first in even ones), each after a short un-timed warm-up: on a machine shared with other
work, load that comes and goes then falls on both stacks alike. Rates are each stack's statements over its
measured time. Inserts go to a table ``bench_db_rows`` that is dropped at the end.

The native pool is configured as ours (``engine/store/database.py``): no reset query when a connection goes
back to the pool (asyncpg's default reset costs a round trip per release) and the same command timeout, so
the ratio measures the thread bridge and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import trio
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from engine.store import EmbeddedPostgres, open_database

SELECT = "SELECT $1::int + 1"
INSERT = "INSERT INTO bench_db_rows (v) VALUES ($1)"
# open_database's default, which our rows use: asyncpg arms a timer per statement with it.
COMMAND_TIMEOUT = 60.0
TABLE = "CREATE TABLE IF NOT EXISTS bench_db_rows (id bigserial PRIMARY KEY, v integer NOT NULL)"

# (label, sql, pool size, concurrent tasks)
WORKLOADS = [
    ("SELECT, 1 connection, 1 task", SELECT, 1, 1),
    ("INSERT, 1 connection, 1 task", INSERT, 1, 1),
    ("SELECT, pool 8, 16 tasks", SELECT, 8, 16),
    ("INSERT, pool 8, 16 tasks", INSERT, 8, 16),
]

Statement = Callable[[int], Awaitable[object]]


def _statement(target: Any, sql: str) -> Statement:
    """``target.fetchval`` for a SELECT, ``target.execute`` for an INSERT (Database and Pool alike)."""
    method = target.fetchval if sql is SELECT else target.execute
    return lambda i: method(sql, i)


# --- ours: trio + Database ----------------------------------------------------------------------------


async def _trio_loop(run: Statement, tasks: int, seconds: float) -> int:
    count = 0
    deadline = trio.current_time() + seconds

    async def worker() -> None:
        nonlocal count
        i = 0
        while trio.current_time() < deadline:
            await run(i)
            i += 1
        count += i

    async with trio.open_nursery() as nursery:
        for _ in range(tasks):
            nursery.start_soon(worker)
    return count


async def ours(dsn: str, sql: str, pool: int, tasks: int, seconds: float) -> tuple[int, float]:
    """Statements run and the seconds they took."""
    async with open_database(dsn, min_size=pool, max_size=pool) as db:
        run = _statement(db, sql)
        await _trio_loop(run, tasks, min(0.5, seconds / 4))  # warm-up: connections, prepared statements
        start = time.perf_counter()
        count = await _trio_loop(run, tasks, seconds)
        return count, time.perf_counter() - start


# --- native: asyncpg on uvloop --------------------------------------------------------------------------


async def _asyncio_loop(run: Statement, tasks: int, seconds: float) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker() -> int:
        i = 0
        while loop.time() < deadline:
            await run(i)
            i += 1
        return i

    return sum(await asyncio.gather(*(worker() for _ in range(tasks))))


async def _keep_session(conn: object) -> None:
    """The reset our pool runs on release: none (see ``engine.store.database``)."""


async def native(dsn: str, sql: str, pool: int, tasks: int, seconds: float) -> tuple[int, float]:
    async with asyncpg.create_pool(dsn, min_size=pool, max_size=pool, command_timeout=COMMAND_TIMEOUT,
                                   reset=_keep_session) as connections:
        run = _statement(connections, sql)
        await _asyncio_loop(run, tasks, min(0.5, seconds / 4))
        start = time.perf_counter()
        count = await _asyncio_loop(run, tasks, seconds)
        return count, time.perf_counter() - start


def run_native(dsn: str, sql: str, pool: int, tasks: int, seconds: float) -> tuple[int, float]:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(native(dsn, sql, pool, tasks, seconds))


# --- the table ------------------------------------------------------------------------------------------


async def _setup(dsn: str, sql: str) -> str:
    async with open_database(dsn, max_size=1) as db:
        await db.execute(sql)
        return str(await db.fetchval("SHOW server_version"))


def rates(dsn: str, workload: tuple[str, str, int, int], seconds: float, rounds: int) -> tuple[float, float]:
    """Statements/s of our stack and of native asyncpg, measured in alternating rounds."""
    _, sql, pool, tasks = workload
    totals = {"ours": [0, 0.0], "native": [0, 0.0]}
    for index in range(rounds):
        order = ("ours", "native") if index % 2 == 0 else ("native", "ours")
        for stack in order:
            if stack == "ours":
                count, elapsed = trio.run(ours, dsn, sql, pool, tasks, seconds / rounds)
            else:
                count, elapsed = run_native(dsn, sql, pool, tasks, seconds / rounds)
            totals[stack][0] += count
            totals[stack][1] += elapsed
    return totals["ours"][0] / totals["ours"][1], totals["native"][0] / totals["native"][1]


def measure(dsn: str, seconds: float, rounds: int) -> None:
    version = trio.run(_setup, dsn, TABLE)
    print(f"PostgreSQL {version}, {os.cpu_count()} CPUs, {seconds:g} s per measurement in {rounds} rounds\n")
    print(f"{'workload':<32}{'ours/s':>10}{'native/s':>11}{'ratio':>8}")
    try:
        for workload in WORKLOADS:
            label = workload[0]
            ours_rate, native_rate = rates(dsn, workload, seconds, rounds)
            ratio = ours_rate / native_rate
            print(f"{label:<32}{ours_rate:>10,.0f}{native_rate:>11,.0f}{ratio:>8.2f}", flush=True)
    finally:
        trio.run(_setup, dsn, "DROP TABLE IF EXISTS bench_db_rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per row and stack")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds the seconds are split into")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    args = parser.parse_args()
    if args.dsn:
        measure(args.dsn, args.seconds, args.rounds)
        return
    root = Path(tempfile.mkdtemp(prefix="songtrack-bench-"))
    root.chmod(0o755)  # as root, the server runs as another account, which must reach its data
    server = EmbeddedPostgres(root, database="bench", fsync=False)
    try:
        measure(server.start(), args.seconds, args.rounds)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
