"""The queued writes to Meta, applied by ``MetaAccountActor`` (``actors/meta_writes.py``) against the Meta
simulator and a real PostgreSQL.

Rules: as tests/actors/test_meta_account.py (whose fixtures these are): the simulator in-process through
``httpx.ASGITransport``, a MockClock that jumps after 100 ms of real idleness. The actor's first cycle runs at
once and the next every 15 minutes, so ``cycles(n)`` lets exactly ``n`` of them run. What Meta has is read
from the simulator's world, and the writes it was asked for from its request log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from prometheus_client import REGISTRY
from trio.testing import MockClock

from actors.meta_signals import MetaWriteSignals
from adapters.meta.simulator import MetaSimulator
from engine.guardrail import PauseCause
from engine.lease_plan import Lease
from engine.messages import MetricSample
from engine.registry import Registry
from engine.store import Database
from engine.store.campaign_meta import SYNC_FAILED, unlink_meta
from engine.store.campaigns import get_campaign
from engine.store.integrations import Integration
from engine.store.meta_writes import ACTION_FAILED, WriteField, enqueue_write
from tests.actors.test_meta_account import clock, connect, make_actor, simulator, wall_of
from tests.engine.store.test_meta_writes import events, rule_run, run_meta
from tests.helpers.factories import take_over_lease

__all__ = ["clock"]  # the fixture, imported so that pytest finds it here

CYCLE = 900.0
PAUSED, ACTIVE = {"status": "PAUSED"}, {"status": "ACTIVE"}


@asynccontextmanager
async def running(db: Database, sim: MetaSimulator, integration: Integration,
                  signals: MetaWriteSignals | None = None) -> AsyncIterator[None]:
    """The actor, polling from the block's start until its end."""
    send, receive = trio.open_memory_channel[MetricSample](1024)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_drain, receive)
        await nursery.start((await make_actor(db, sim, integration, Registry(), send, signals=signals)).run)
        yield
        nursery.cancel_scope.cancel()


async def _drain(receive: trio.MemoryReceiveChannel[MetricSample]) -> None:
    async for _ in receive:
        pass


async def cycles(n: int) -> None:
    """Let ``n`` more cycles run (the actor's first one runs as it starts)."""
    await trio.sleep(n * CYCLE - 60 if n else 0)
    await trio.sleep(60)


def writes_to(sim: MetaSimulator, meta_id: str) -> list[dict[str, str]]:
    """The parameters of every write Meta was asked to make to the campaign ``meta_id``."""
    return [logged.params for logged in sim.requests if logged.method == "POST" and logged.path.endswith(meta_id)]


def lifetime_campaign(sim: MetaSimulator, budget_minor: int) -> str:
    """A new Meta campaign with a lifetime budget in the simulator's one account: its id."""
    (account,) = sim.world.accounts.values()
    return sim.world.create_campaign(account, name="Lifetime push", objective="OUTCOME_TRAFFIC", status="ACTIVE",
                                     daily_budget=None, lifetime_budget=budget_minor, categories=[]).id


async def enqueue(db: Database, org: uuid.UUID, campaign: uuid.UUID, field: WriteField, value: dict[str, str], *,
                  rule: uuid.UUID | None = None, run: uuid.UUID | None = None, sim: MetaSimulator) -> int:
    cause = PauseCause(rule_id=rule) if rule else PauseCause(user_id=uuid.uuid4())
    return await enqueue_write(db, org, campaign, field=field, value=value, cause=cause, run_id=run,
                               now=wall_of(sim)())


async def state_of(db: Database, write_id: int) -> tuple[str, int, object]:
    row = await db.fetchrow("SELECT state, attempts, error::text FROM meta_writes WHERE id = $1", write_id)
    assert row is not None
    return row["state"], row["attempts"], None if row["error"] is None else json.loads(row["error"])


async def test_a_budget_write_is_validated_then_made_and_once_there_costs_no_call(
        db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=0)
    meta_id = lifetime_campaign(sim, 50_000)
    integration, links = await connect(db, sim)
    org, ours = integration.organization_id, links[meta_id]
    rule, run = await rule_run(db, org, ours)
    older = await enqueue(db, org, ours, "budget", {"budget": "80.00", "currency": "USD"}, sim=sim)
    newer = await enqueue(db, org, ours, "budget", {"budget": "90.00", "currency": "USD"}, rule=rule, run=run,
                          sim=sim)
    async with running(db, sim, integration):
        await cycles(0)
        assert sim.world.campaigns[meta_id].lifetime_budget == 9000  # the newer write superseded the older
        assert writes_to(sim, meta_id) == [
            {"lifetime_budget": "9000", "execution_options": '["validate_only"]'}, {"lifetime_budget": "9000"}]
        assert [(await state_of(db, w))[0] for w in (older, newer)] == ["superseded", "applied"]
        meta = await run_meta(db, run)
        assert isinstance(meta, dict) and meta["state"] == "applied" and "error" not in meta
        campaign = await get_campaign(db, org, ours)
        assert campaign is not None and campaign.meta_sync is not None
        assert (campaign.meta_sync.budget_minor, campaign.meta_sync.currency) == (9000, "USD")

        again = await enqueue(db, org, ours, "budget", {"budget": "90.00", "currency": "USD"}, sim=sim)
        await cycles(1)
        assert (await state_of(db, again))[0] == "applied" and len(writes_to(sim, meta_id)) == 2  # Meta had it


async def test_a_signal_applies_a_queued_write_at_once_without_polling_figures(
        db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=1)
    integration, links = await connect(db, sim)
    org, [(meta_id, ours)] = integration.organization_id, list(links.items())
    signals = MetaWriteSignals()
    async with running(db, sim, integration, signals):
        await cycles(0)
        polls = len([r for r in sim.requests if r.path.endswith("/insights")])
        await db.execute("UPDATE campaigns SET status = 'paused' WHERE id = $1", ours)
        write = await enqueue(db, org, ours, "status", PAUSED, sim=sim)
        signals.wake([uuid.uuid4()])  # another organization's: nothing happens
        await trio.sleep(1)
        assert (await state_of(db, write))[0] == "pending"
        signals.wake([org])
        await trio.sleep(1)  # a second, not the 15 minutes to the next poll
        assert (await state_of(db, write))[0] == "applied"
        assert sim.world.campaigns[meta_id].status == "PAUSED"
        assert len([r for r in sim.requests if r.path.endswith("/insights")]) == polls  # no figures polled
        signals.wake([org])  # nothing pending: no call to Meta at all
        calls = len(sim.requests)
        await trio.sleep(1)
        assert len(sim.requests) == calls


async def test_an_outcome_after_the_lease_was_taken_over_is_not_recorded_and_the_actor_stops(
        db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=1)
    integration, links = await connect(db, sim)
    org, [(meta_id, ours)] = integration.organization_id, list(links.items())
    signals, fenced = MetaWriteSignals(), {"write": "meta_write_result"}
    refused = REGISTRY.get_sample_value("songtrack_fenced_writes_total", fenced) or 0.0
    async with running(db, sim, integration, signals):
        await cycles(0)
        await take_over_lease(db, Lease("meta:test", 0))  # the actor stalled; another engine process claimed it
        write = await enqueue(db, org, ours, "status", PAUSED, sim=sim)
        signals.wake([org])
        await trio.sleep(1)
        # Meta was asked before the outcome could be refused; the write stays pending for the new holder, who
        # finds Meta has it and records it without a call.
        assert writes_to(sim, meta_id) == [PAUSED]
        assert await state_of(db, write) == ("pending", 0, None)
        assert (REGISTRY.get_sample_value("songtrack_fenced_writes_total", fenced) or 0.0) - refused == 1
        calls = len(sim.requests)
        await cycles(1)
        assert len(sim.requests) == calls  # the actor stopped


async def test_status_writes_resume_and_pause_and_the_reconcile_does_not_write_again(
        db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=4)  # the fourth is paused on Meta
    integration, links = await connect(db, sim)
    org = integration.organization_id
    first, second, third, fourth = links
    await db.execute("UPDATE campaigns SET status = 'paused' WHERE id = ANY($1::uuid[])", [links[second],
                                                                                           links[third]])
    resume = await enqueue(db, org, links[fourth], "status", ACTIVE, sim=sim)
    pause = await enqueue(db, org, links[first], "status", PAUSED, sim=sim)
    stopped = await enqueue(db, org, links[second], "status", PAUSED, sim=sim)  # the reconcile would pause it too
    refused = await enqueue(db, org, links[third], "status", ACTIVE, sim=sim)  # stopped here: not started on Meta
    async with running(db, sim, integration):
        await cycles(2)
    assert [sim.world.campaigns[m].status for m in links] == ["PAUSED", "PAUSED", "PAUSED", "ACTIVE"]
    assert [writes_to(sim, m) for m in links] == [[PAUSED]] * 3 + [[ACTIVE]]  # once each, then nothing
    assert [(await state_of(db, w))[0] for w in (resume, pause, stopped)] == ["applied"] * 3
    assert await state_of(db, refused) == ("refused", 0, {
        "code": "CONFLICT", "message": "the campaign is paused here, so it is not started on Meta"})
    stored = {row["id"]: row["meta_effective_status"] for row in await db.fetch(
        "SELECT id, meta_effective_status FROM campaigns")}
    assert [stored[links[m]] for m in links] == ["PAUSED", "PAUSED", "PAUSED", "ACTIVE"]


async def test_a_budget_meta_refuses_is_shown_and_never_tried_again(db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=0)
    meta_id = lifetime_campaign(sim, 50_000)
    integration, links = await connect(db, sim)
    org, ours = integration.organization_id, links[meta_id]
    rule, run = await rule_run(db, org, ours)
    value = {"budget": "1.00", "currency": "USD"}  # under Meta's minimum for the campaign's objective
    write = await enqueue(db, org, ours, "budget", value, rule=rule, run=run, sim=sim)
    async with running(db, sim, integration):
        await cycles(3)
    assert writes_to(sim, meta_id) == [{"lifetime_budget": "100", "execution_options": '["validate_only"]'}]
    assert sim.world.campaigns[meta_id].lifetime_budget == 50_000
    state, attempts, error = await state_of(db, write)
    assert (state, attempts) == ("refused", 0)
    assert isinstance(error, dict) and error["code"] == "INTEGRATION_ERROR"
    assert error["message"].startswith("Meta: meta HTTP 400 (#100): Invalid parameter (Budget Is Too Low: ")
    meta = await run_meta(db, run)
    assert isinstance(meta, dict) and (meta["state"], meta["error"]) == ("refused", error)
    assert await events(db, org, ACTION_FAILED) == [{
        "ruleId": str(rule), "campaignId": str(ours), "campaignName": "Lifetime push", "runId": str(run),
        "field": "budget", "value": value, "error": error}]
    assert await events(db, org, SYNC_FAILED) == [{
        "campaignId": str(ours), "campaignName": "Lifetime push", "action": "set_budget", "error": error}]


async def test_writes_we_will_not_send_are_refused_without_a_write(db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=1)  # the simulator's own campaigns have daily budgets
    integration, links = await connect(db, sim)
    org, ((meta_id, ours),) = integration.organization_id, links.items()
    usd, eur = {"budget": "80.00", "currency": "USD"}, {"budget": "80.00", "currency": "EUR"}
    pause, euros = await enqueue(db, org, ours, "status", PAUSED, sim=sim), await enqueue(db, org, ours, "budget",
                                                                                          eur, sim=sim)
    async with running(db, sim, integration):
        await cycles(0)
        daily = await enqueue(db, org, ours, "budget", usd, sim=sim)
        await cycles(1)
        unlinked = await enqueue(db, org, ours, "budget", usd, sim=sim)
        await unlink_meta(db, org, ours)
        await cycles(1)
    pushable = "the budget cannot be pushed to the linked Meta campaign: "
    assert [await state_of(db, w) for w in (pause, euros, daily, unlinked)] == [("applied", 0, None), (
        "refused", 0, {"code": "CONFLICT", "message": pushable + "the campaign's budget is in EUR and its Meta ad"
                       " account counts in USD: we do not convert currencies, so set the campaign's currency to"
                       " USD to push its budget"}), (
        "refused", 0, {"code": "CONFLICT", "message": pushable + "the Meta campaign has a daily budget, and Meta"
                       " does not switch a campaign to a lifetime budget: link the campaign to a Meta campaign"
                       " created with budgetType lifetime"}), (
        "refused", 0, {"code": "CONFLICT", "message": "the campaign is not linked to a Meta campaign"})]
    assert writes_to(sim, meta_id) == [PAUSED]


async def test_a_transient_failure_is_tried_again_next_cycle_until_it_is_made(db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=1, refused_writes=2, write_error_code=2)  # Meta's code 2: HTTP 500, retry it
    integration, links = await connect(db, sim)
    org, ((meta_id, ours),) = integration.organization_id, links.items()
    rule, run = await rule_run(db, org, ours)
    write = await enqueue(db, org, ours, "status", PAUSED, rule=rule, run=run, sim=sim)
    async with running(db, sim, integration):
        for tried in (1, 2):
            await cycles(0 if tried == 1 else 1)
            state, attempts, error = await state_of(db, write)
            assert (state, attempts, len(writes_to(sim, meta_id))) == ("pending", tried, tried)  # once a cycle
            assert isinstance(error, dict) and "(#2)" in error["message"]
            meta = await run_meta(db, run)
            assert isinstance(meta, dict) and (meta["state"], meta["error"]) == ("pending", error)
        await cycles(1)
    assert (await state_of(db, write))[:2] == ("applied", 2) and sim.world.campaigns[meta_id].status == "PAUSED"
    assert len(writes_to(sim, meta_id)) == 3 and await events(db, org, ACTION_FAILED) == []


async def test_a_write_that_keeps_failing_is_refused_after_five_attempts(db: Database, clock: MockClock) -> None:
    sim = simulator(campaigns=1, refused_writes=100, write_error_code=2)
    integration, links = await connect(db, sim)
    org, ((meta_id, ours),) = integration.organization_id, links.items()
    rule, run = await rule_run(db, org, ours)
    write = await enqueue(db, org, ours, "status", PAUSED, rule=rule, run=run, sim=sim)
    async with running(db, sim, integration):
        await cycles(8)
    state, attempts, error = await state_of(db, write)
    assert (state, attempts, len(writes_to(sim, meta_id))) == ("refused", 4, 5)
    assert isinstance(error, dict) and error["message"].startswith("gave up after 5 attempts: Meta: meta HTTP 500 (#2)")
    assert [e["error"] for e in await events(db, org, ACTION_FAILED)] == [error]
    assert sim.world.campaigns[meta_id].status == "ACTIVE"
