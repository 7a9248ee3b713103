"""Singletons under leases: two engine processes (two ``Singletons`` with their own node, in one trio run, on
one real database) never run one singleton twice, spread them by fair share, and hand them over at once on
a graceful stop; a singleton whose lease another process took stops here at the next renewal; a process
that cannot reach the database stops its singletons before their leases can expire (``cut_off``, shared
with the account actors' test).

Rules: a MockClock that jumps after 100 ms of real idleness drives the renewals (every 10 s of trio time);
expiry is the database's clock, so a test takes a lease away by hand as another process would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from trio.testing import MockClock

from actors.lease_keeper import LeaseKeeper
from actors.singletons import Singletons, lease_name
from engine.registry import Registry
from engine.store import Database
from engine.store.nodes import register_node
from engine.supervisor import ChildSpec
from tests.actors.test_account_leases import TIMINGS, cut_off, take_away, until
from tests.actors.test_meta_account import clock

__all__ = ["clock"]  # the fixture, imported so that pytest finds it here

NAMES = ("housekeeper", "stream-counter", "daily-reporter", "rule-schedule")


class Fleet:
    """Which process runs which singleton now, as the fake singletons report it, and every moment one
    started while another process still ran it."""

    def __init__(self, stop_takes: float = 0.0) -> None:
        self.stop_takes = stop_takes  # seconds a singleton takes to stop (a flush, a transaction to end)
        self.running: dict[str, list[str]] = {name: [] for name in NAMES}
        self.overlaps: list[str] = []
        self.last_stop = 0.0  # when a singleton last stopped, on the trio clock

    def specs(self, process: str) -> list[ChildSpec]:
        def spec(name: str) -> ChildSpec:
            async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                if self.running[name]:
                    self.overlaps.append(name)
                self.running[name].append(process)
                task_status.started()
                try:
                    await trio.sleep_forever()
                finally:
                    with trio.CancelScope(shield=True):
                        await trio.sleep(self.stop_takes)
                    self.running[name].remove(process)
                    self.last_stop = trio.current_time()
            return ChildSpec(name, run)

        return [spec(name) for name in NAMES]

    def of(self, process: str) -> set[str]:
        return {name for name, processes in self.running.items() if process in processes}


@asynccontextmanager
async def process(db: Database, fleet: Fleet, name: str, nursery: trio.Nursery, registry: Registry | None = None,
                  keeper_db: Database | None = None) -> AsyncIterator[Singletons]:
    """An engine process's singletons, with its own registered node, started in ``nursery``."""
    node = await register_node(db)
    singletons = Singletons(db, registry=registry or Registry(), specs=fleet.specs(name),
                            keeper=LeaseKeeper(keeper_db or db, node, TIMINGS))
    await nursery.start(singletons.run)
    yield singletons


async def test_each_singleton_runs_in_one_process_and_a_graceful_stop_hands_them_over_at_once(
        db: Database, clock: MockClock) -> None:
    fleet, registry = Fleet(stop_takes=0.25), Registry()
    async with trio.open_nursery() as nursery, process(db, fleet, "a", nursery, registry) as a:
        assert fleet.of("a") == set(NAMES)  # alone, it runs every singleton
        async with process(db, fleet, "b", nursery) as b:
            # a stops, then releases, its excess at its next renewal; b claims it on the NOTIFY
            await until(lambda: len(fleet.of("a")) == 2 and len(fleet.of("b")) == 2)
            # The registry shows a singleton where it runs; our own status says which wait here.
            shown = {status.name for status in registry.snapshot()} & set(NAMES)
            assert shown == fleet.of("a") == set(a.running)
            status = registry.get("singletons")
            assert status is not None and status.detail == {
                name: "running" if name in fleet.of("a") else "standby" for name in NAMES}
            a.stop()
            with trio.fail_after(2):  # on the release's NOTIFY, once its singletons stopped: not a TTL later
                while fleet.of("b") != set(NAMES):  # noqa: ASYNC110 -- other tasks' state, with no event to wait on
                    await trio.sleep(0.1)
            b.stop()
    assert fleet.overlaps == []  # each stopped (which takes a while) before it was released


async def test_a_singleton_whose_lease_another_process_took_stops_here_at_the_next_renewal(
        db: Database, clock: MockClock) -> None:
    fleet = Fleet()
    async with trio.open_nursery() as nursery, process(db, fleet, "a", nursery) as a:
        await take_away(db, lease_name("housekeeper"))
        await until(lambda: "housekeeper" not in fleet.of("a"))
        assert fleet.of("a") == set(NAMES) - {"housekeeper"}
        a.stop()


async def test_a_process_that_cannot_reach_the_database_stops_its_singletons_before_the_ttl(
        db: Database, clock: MockClock) -> None:
    fleet = Fleet()
    async with trio.open_nursery() as nursery:
        await cut_off(lambda keeper_db: process(db, fleet, "a", nursery, keeper_db=keeper_db),
                      running=lambda: len(fleet.of("a")), last_stop=lambda: fleet.last_stop, dsn=db.dsn)
