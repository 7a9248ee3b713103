"""Driving trio's MockClock through code that talks to PostgreSQL.

Autojump cannot be used with the database (the clock would leap ahead while a query waits on the
database thread), so ``advance`` jumps by hand: to the next sleeping deadline, and only once every task
is blocked and a deadline exists. An in-flight query leaves no deadline, so it is waited for in real time.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import trio
import trio.testing

__all__ = ["advance", "run_until"]

_IDLE_ROUNDS = 20_000  # ~1 ms each: how long (real time) we wait for a query before calling it a hang


async def advance(clock: trio.testing.MockClock, until: float, ended: trio.Event) -> None:
    """Move trio time to ``until`` (or until ``ended``), jumping from one sleeping deadline to the next."""
    idle = 0
    while trio.current_time() < until and not ended.is_set():
        await trio.testing.wait_all_tasks_blocked(0.001)
        wait = trio.lowlevel.current_statistics().seconds_to_next_deadline
        if math.isinf(wait):  # a query in flight: no deadline to jump to yet
            idle += 1
            assert idle < _IDLE_ROUNDS, "nothing scheduled and nothing moving: a hang"
            continue
        idle = 0
        clock.jump(max(0.0, min(wait, until - trio.current_time())))


async def run_until(clock: trio.testing.MockClock, run: Callable[..., Awaitable[object]], until: float) -> bool:
    """Start ``run`` (an actor's ``run(task_status=...)``), advance to ``until`` and cancel it; returns
    whether it returned by itself before that."""
    ended = trio.Event()

    async def wrapped(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await run(task_status=task_status)
        ended.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(wrapped)
        await advance(clock, until, ended)
        nursery.cancel_scope.cancel()
    return ended.is_set()
