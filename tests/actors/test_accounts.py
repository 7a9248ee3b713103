"""``AccountsSupervisor``: one actor per connected Meta integration, following connections as they come and go.

Rules: as tests/actors/test_meta_account.py (the simulator in-process, a real database, a MockClock that
jumps after 100 ms of real idleness). The fallback poll is set far beyond the tests' horizon, so every
change we see arrived through ``NOTIFY integrations``; waits poll the supervisor's state on the trio
clock under a ``fail_after``.
"""

from __future__ import annotations

import gc
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
from trio.testing import MockClock

from actors.accounts import Account, AccountsSupervisor, ActorKind
from actors.lease_keeper import LeaseKeeper
from actors.meta_account import meta_kind
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.meta.simulator import MetaSimulator
from config import Keys, Settings
from engine.lease_plan import Lease, LeaseTimings
from engine.messages import MetricSample
from engine.pacing import Pacer
from engine.registry import ActorState, Registry
from engine.store import Database
from engine.store.integrations import disconnect, mark_needs_reauth, upsert_integration
from tests.actors.test_meta_account import KEY, TOKEN, clock, connect, http_factory, simulator, wall_of

__all__ = ["clock"]  # the fixture, imported so that pytest finds it here

NEVER = 1e9
# Leases claimed once and never renewed within the tests' horizon (renewals have tests of their own).
UNRENEWED = LeaseTimings(ttl=2 * NEVER, renew_every=NEVER)


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(3600):
        while not condition():  # noqa: ASYNC110 -- the conditions are other tasks' state, with no event to wait on
            await trio.sleep(1)


def supervisor(db: Database, sim: MetaSimulator, registry: Registry, send: trio.MemorySendChannel[MetricSample],
               *, kinds: Sequence[ActorKind] | None = None, start_batch: int = 500,
               freeze_after: int = 100) -> AccountsSupervisor:
    """The supervisor of the Meta kind, wired as the root wires it but to the simulator, or of ``kinds``."""
    keys = Keys(jwt_signing_key=os.urandom(32), token_encryption_key=KEY)
    rng = random.Random(1)  # the supervisor's jitter and the actors' seeds draw from one generator
    if kinds is None:
        kinds = [meta_kind(db, keys, registry, send, http_factory(sim), meta_ads(Settings().meta),
                           pacer=Pacer(meta_window), wall=wall_of(sim), rng=rng)]
    return AccountsSupervisor(db, registry=registry, kinds=kinds, keeper=LeaseKeeper(db, uuid.uuid4(), UNRENEWED),
                              poll_interval=NEVER, rng=rng, start_batch=start_batch, freeze_after=freeze_after)


@asynccontextmanager
async def running(accounts: AccountsSupervisor, send: trio.MemorySendChannel[MetricSample],
                  receive: trio.MemoryReceiveChannel[MetricSample]) -> AsyncIterator[None]:
    """``accounts`` started (samples drained), then stopped gracefully; fails on the trio clock if anything
    hangs (under the jumping clock, at once)."""
    with trio.fail_after(24 * 3600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, receive)
            await nursery.start(accounts.run)
            yield
            accounts.stop()
            send.close()  # the drain ends once every actor has closed its clone too


async def _drain(receive: trio.MemoryReceiveChannel[MetricSample]) -> None:
    async for _ in receive:
        pass


async def test_a_stop_asked_while_the_accounts_are_listed_starts_no_actor(db: Database, clock: MockClock) -> None:
    sim = simulator()
    await connect(db, sim)
    registry = Registry()
    send, _ = trio.open_memory_channel[MetricSample](64)
    accounts = supervisor(db, sim, registry, send)
    accounts.stop()  # what the root's drain does when a shutdown comes while the first listing is under way
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            await nursery.start(accounts.run)
    assert accounts.children == []
    assert registry.snapshot() == []
    assert sim.requests == []


async def test_actors_start_at_boot_and_follow_connect_and_disconnect(db: Database, clock: MockClock) -> None:
    sim = simulator()
    first, _ = await connect(db, sim)
    second, _ = await connect(db, sim)
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](64)
    accounts = supervisor(db, sim, registry, send)
    async with running(accounts, send, receive):
        assert accounts.children == sorted([f"meta:{first.id}", f"meta:{second.id}"])
        assert {s.name: s.state for s in registry.snapshot()} == {
            f"meta:{first.id}": ActorState.RUNNING, f"meta:{second.id}": ActorState.RUNNING}

        third, _ = await connect(db, sim)  # a new organization connects
        await until(lambda: f"meta:{third.id}" in accounts.children)
        await until(lambda: _detail(registry, f"meta:{third.id}").get("last_success_at") is not None)  # it polls

        await disconnect(db, first.organization_id, "meta")
        await until(lambda: f"meta:{first.id}" not in accounts.children)
        assert registry.get(f"meta:{first.id}") is None
        assert registry.get(f"meta:{second.id}") is not None

    assert {s.state for s in registry.snapshot()} == {ActorState.STOPPED}


@pytest.mark.usefixtures("collector_restored")
async def test_many_accounts_start_in_batches_one_reconciliation_each(db: Database, clock: MockClock) -> None:
    sim = simulator()
    names = [f"meta:{(await connect(db, sim))[0].id}" for _ in range(5)]
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](64)
    accounts = supervisor(db, sim, registry, send, start_batch=2, freeze_after=2)
    async with running(accounts, send, receive):
        assert len(accounts.children) == 2  # reported started after the first batch; the rest follow at once
        assert gc.get_freeze_count() > 0  # the started actors are out of the garbage collector's walks
        await until(lambda: accounts.children == sorted(names))
        await until(lambda: all(_detail(registry, name).get("last_success_at") is not None for name in names))


def _detail(registry: Registry, name: str) -> dict[str, object]:
    status = registry.get(name)
    return dict(status.detail or {}) if status is not None else {}


async def test_needs_reauth_stops_the_actor_and_a_reconnect_starts_it_again(db: Database, clock: MockClock) -> None:
    sim = simulator()
    integration, _ = await connect(db, sim)
    name = f"meta:{integration.id}"
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](64)
    accounts = supervisor(db, sim, registry, send)
    async with running(accounts, send, receive):
        await mark_needs_reauth(db, integration.organization_id, integration.id, reason="190")  # e.g. the API saw a 190
        # (While the supervisor stops the child its entry may be replaced for a moment: wait, then check.)
        await until(lambda: getattr(registry.get(name), "state", None) == ActorState.STOPPED)
        assert _detail(registry, name)["state"] == "needs_reauth"
        assert name in accounts.children  # still shown

        await upsert_integration(  # the user connects again
            db, KEY, org_id=integration.organization_id, provider="meta",
            external_account_id=integration.external_account_id, display_name="Label", access_token=TOKEN,
            refresh_token=None, token_expires_at=None, scopes=["ads_read"], connected_by=None)
        await until(lambda: getattr(registry.get(name), "state", None) == ActorState.RUNNING)
        await until(lambda: _detail(registry, name).get("state") == "waiting")


async def test_another_kind_plugs_in_and_one_crashing_account_does_not_stop_the_others(
        db: Database, clock: MockClock) -> None:
    started: list[str] = []

    async def listed() -> list[Account]:
        return [Account(key="good", organization_id=uuid.uuid4()), Account(key="bad", organization_id=uuid.uuid4())]

    def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            started.append(lease.name)
            task_status.started()
            if account.key == "bad":
                raise RuntimeError("boom")
            await trio.sleep_forever()
        return run

    sim = simulator()
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](1)
    kind = ActorKind("fake", listed, build)
    accounts = supervisor(db, sim, registry, send, kinds=[kind])
    async with running(accounts, send, receive):
        await trio.sleep(3 * 3600)  # hours of crash loop
        good, bad = registry.get("fake:good"), registry.get("fake:bad")
        assert good is not None and bad is not None
        assert (good.state, good.restarts) == (ActorState.RUNNING, 0)
        assert bad.state == ActorState.BACKING_OFF and bad.last_error == "RuntimeError: boom"
        # ten restarts climbing to the 10-minute cap, then one every 5 to 10 minutes: about 35 in 3 hours
        assert 25 <= started.count("fake:bad") <= 45
