"""Account actors under leases: two engine processes (two supervisors with their own node, in one trio run,
on one real database) split the accounts by fair share and never run one account twice; a graceful stop
hands the accounts over at once; a lease lost to another process stops the actor here at the next
renewal, or at its first fenced write, and is not restarted as a crash; a process that cannot reach the
database stops its actors before its leases can expire; a restarted process releases the leases its dead
predecessors on the same host still held.

Rules: a MockClock that jumps after 100 ms of real idleness drives the renewals (every 10 s of trio time);
expiry is the database's clock, so a test expires a lease by hand as the TTL would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

import trio
from trio.testing import MockClock

from actors.accounts import Account, AccountsSupervisor, ActorKind
from actors.lease_keeper import LeaseKeeper, release_dead_neighbours
from engine.lease_plan import Lease, LeaseTimings
from engine.registry import ActorState, Registry
from engine.store import Database, leases
from engine.store.database import open_database
from engine.store.nodes import register_node
from tests.actors.test_meta_account import clock

__all__ = ["clock"]  # the fixture, imported so that pytest finds it here

TIMINGS = LeaseTimings(ttl=30, renew_every=10)
ACCOUNTS = [Account(key=f"{i:02d}", organization_id=uuid.UUID(int=1)) for i in range(10)]


class Fleet:
    """Which process runs which account now, as the fake actors report it."""

    def __init__(self) -> None:
        self.running: dict[str, list[str]] = {}  # actor name → the processes running it
        self.last_stop = 0.0  # when an actor last stopped, on the trio clock

    def kind(self, process: str) -> ActorKind:
        async def listed() -> list[Account]:
            return ACCOUNTS

        def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
            async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                self.running.setdefault(lease.name, []).append(process)
                task_status.started()
                try:
                    await trio.sleep_forever()
                finally:
                    self.running[lease.name].remove(process)
                    self.last_stop = trio.current_time()
            return run

        return ActorKind("fake", listed, build)

    def of(self, process: str) -> set[str]:
        return {name for name, processes in self.running.items() if process in processes}

    def doubled(self) -> list[str]:
        return [name for name, processes in self.running.items() if len(processes) > 1]


@asynccontextmanager
async def process(db: Database, fleet: Fleet, name: str, nursery: trio.Nursery,
                  keeper_db: Database | None = None) -> AsyncIterator[AccountsSupervisor]:
    """An engine process's accounts supervisor, with its own registered node, started in ``nursery``."""
    node = await register_node(db)
    accounts = AccountsSupervisor(db, registry=Registry(), kinds=[fleet.kind(name)],
                                  keeper=LeaseKeeper(keeper_db or db, node, TIMINGS), poll_interval=1e9)
    await nursery.start(accounts.run)
    yield accounts


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(120):
        while not condition():  # noqa: ASYNC110 -- other tasks' state, with no event to wait on
            await trio.sleep(1)


async def test_two_processes_split_the_accounts_and_a_graceful_stop_hands_them_over_at_once(
        db: Database, clock: MockClock) -> None:
    fleet = Fleet()
    async with trio.open_nursery() as nursery, process(db, fleet, "a", nursery) as a:
        assert len(fleet.of("a")) == 10  # alone, it takes every account
        async with process(db, fleet, "b", nursery) as b:
            # a releases its excess at its next renewal, b claims it on the NOTIFY
            await until(lambda: len(fleet.of("a")) == 5 and len(fleet.of("b")) == 5)
            assert fleet.doubled() == []
            before = trio.current_time()
            a.stop()
            await until(lambda: len(fleet.of("b")) == 10)
            assert trio.current_time() - before < 2  # on the release's NOTIFY, not a TTL later
            assert fleet.doubled() == []
            b.stop()


async def test_a_lease_lost_to_another_process_stops_the_actor_here_at_the_next_renewal(
        db: Database, clock: MockClock) -> None:
    fleet = Fleet()
    async with trio.open_nursery() as nursery, process(db, fleet, "a", nursery) as a:
        assert "fake:03" in fleet.of("a")
        await take_away(db, "fake:03")
        await until(lambda: "fake:03" not in fleet.of("a"))
        assert len(fleet.of("a")) == 9
        a.stop()


async def test_an_actor_whose_write_was_fenced_stops_quietly_and_is_not_restarted(
        db: Database, clock: MockClock) -> None:
    written, refused = trio.Event(), list[str]()

    async def listed() -> list[Account]:
        return ACCOUNTS[:1]

    def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            try:
                while True:  # a write a second, stopping on a refusal as the real actors do
                    await trio.sleep(1)
                    async with leases.fenced_transaction(db, lease, "test"):
                        written.set()
            except leases.LeaseLost:
                refused.append(lease.name)
        return run

    registry = Registry()
    accounts = AccountsSupervisor(db, registry=registry, kinds=[ActorKind("fake", listed, build)],
                                  keeper=LeaseKeeper(db, await register_node(db), TIMINGS), poll_interval=1e9)
    async with trio.open_nursery() as nursery:
        await nursery.start(accounts.run)
        await written.wait()  # past the start's wake-ups: the next renewal is seconds after the next write
        await take_away(db, "fake:00")
        await until(lambda: refused == ["fake:00"])
        status = registry.get("fake:00")
        assert status is not None and (status.state, status.restarts, status.last_error) == (
            ActorState.STOPPED, 0, None)  # a normal return: not a crash, not restarted
        await until(lambda: accounts.children == [])  # the next renewal finds the lease gone and forgets it
        assert refused == ["fake:00"]
        accounts.stop()


async def take_away(db: Database, name: str) -> None:
    """The lease ``name`` claimed by another process, as if ours had stalled past its TTL (a paused process)."""
    await db.execute("UPDATE engine_leases SET expires_at = now() + interval '1 hour', node_id = gen_random_uuid(),"
                     " token = token + 1 WHERE name = $1", name)


async def test_a_process_that_cannot_reach_the_database_stops_its_actors_before_the_ttl(
        db: Database, clock: MockClock) -> None:
    fleet = Fleet()
    async with trio.open_nursery() as nursery:
        await cut_off(lambda keeper_db: process(db, fleet, "a", nursery, keeper_db=keeper_db),
                      running=lambda: len(fleet.of("a")), last_stop=lambda: fleet.last_stop, dsn=db.dsn)


class Stoppable(Protocol):
    def stop(self) -> None: ...


async def cut_off(start: Callable[[Database], AbstractAsyncContextManager[Stoppable]], *, running: Callable[[], int],
                  last_stop: Callable[[], float], dsn: str) -> None:
    """Start a process whose lease keeper has a pool of its own (``start(keeper_db)``), close that pool (to
    the keeper, the database gone), and check that what it ran (``running``, a count) stops before the
    TTL."""
    async with AsyncExitStack() as reachable:
        keeper_db = await reachable.enter_async_context(open_database(dsn, max_size=2))
        async with start(keeper_db) as a:
            assert running() > 0
            await reachable.aclose()
            cut = trio.current_time()
            await until(lambda: not running())
            # Stopped once no renewal succeeded for ttl - renew_every, counted from the last one (at most a
            # renewal interval before the cut): before any other process could claim what it ran.
            stopped_after = last_stop() - cut
            assert TIMINGS.give_up_after - TIMINGS.renew_every <= stopped_after <= TIMINGS.give_up_after
            a.stop()


async def test_a_restart_on_the_same_host_releases_its_dead_predecessors_leases_at_once(db: Database) -> None:
    # Three earlier processes of this host: one crashed (its pid runs nothing now), one was an earlier run
    # with our own pid (a container restarted), one still runs (pid 1, whoever it is here).
    crashed = await trio.lowlevel.open_process(["true"])
    await crashed.wait()
    earlier = {pid: await register_node(db) for pid in (crashed.pid, os.getpid(), 1)}
    for pid, node in earlier.items():
        await db.execute("UPDATE engine_nodes SET pid = $2 WHERE id = $1", node, pid)
        await leases.claim(db, node, [f"meta:{pid}"], ttl=3600, limit=1)
    me = await register_node(db)
    await release_dead_neighbours(db, me)
    assert set(await leases.claim(db, me, [f"meta:{pid}" for pid in earlier], ttl=30, limit=10)) == {
        f"meta:{crashed.pid}", f"meta:{os.getpid()}"}


async def test_a_process_silent_for_a_ttl_is_counted_out_and_renewing_keeps_one_counted(db: Database) -> None:
    here, silent = await register_node(db), await register_node(db)
    timings = LeaseTimings(ttl=5, renew_every=1)
    names = [f"fake:{account.key}" for account in ACCOUNTS]
    # Both heartbeats are older than the TTL but younger than the status page's 30 s: ours is refreshed by
    # the renewal itself, the other's is not, so we are the only live process and take every account.
    await db.execute("UPDATE engine_nodes SET heartbeat_at = now() - interval '10 seconds'")
    held = await LeaseKeeper(db, here, timings).settle(names)
    assert sorted(held) == names
    assert await leases.live_engine_count(db, within=timings.ttl) == 1
    assert silent not in {row["node_id"] for row in await db.fetch("SELECT node_id FROM engine_leases")}
