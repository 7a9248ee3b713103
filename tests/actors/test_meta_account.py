"""``MetaAccountActor`` against the Meta simulator and a real PostgreSQL.

Rules: the product parts only: a ``MetaSimulator`` reached in-process through ``httpx.ASGITransport``,
a ``Pacer``, the ``db`` fixture's database, an integration connected with ``upsert_integration`` and the
simulator's token. Time is trio's ``MockClock``, and the simulator's ``SimClock`` reads trio time, so
simulated days cost CPU, not wall time. The clock jumps only after 100 ms of real idleness, not at once as
``autojump_clock`` does: a query waits on the asyncio thread, and jumping then would be a jump in the
middle of a database call (tests/conftest.py). A database call that idles longer than that only makes
simulated time pass, as it would in production. Every sample is checked against ``World.truth`` at the
moment it arrives: nothing can move simulated time between the fetch and the receipt.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import trio
from prometheus_client import REGISTRY
from trio.testing import MockClock

from actors.meta_account import MetaAccountActor
from actors.meta_schedule import MetaSchedule
from actors.meta_signals import MetaWriteSignals
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.meta.simulator import FaultConfig, MetaSimulator, SimClock, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from config import Settings
from engine.lease_plan import Lease
from engine.messages import MetricSample
from engine.pacing import Pacer, RetryPolicy
from engine.registry import ActorState, Registry
from engine.store import Database
from engine.store.campaign_meta import link_meta
from engine.store.integrations import Integration
from tests.helpers.factories import claim_lease, connect_integration, create_campaign, create_org, take_over_lease

TOKEN = "SIMULATOR_TOKEN"
KEY = os.urandom(32)
HOUR = 3600.0


@pytest.fixture
def clock() -> MockClock:
    return MockClock(autojump_threshold=0.1)


def simulator(seed: int = 3, campaigns: int = 2, **faults: float) -> MetaSimulator:
    config = SimulatorConfig(seed=seed, accounts=1, campaigns_per_account=campaigns,
                             faults=FaultConfig(**faults))  # type: ignore[arg-type]
    return MetaSimulator(config, SimClock(parse_start(config.start), 1.0, trio.current_time))


def wall_of(sim: MetaSimulator) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(sim.clock.now(), UTC)


def http_factory(sim: MetaSimulator) -> Callable[[], httpx.AsyncClient]:
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com")


async def connect(db: Database, sim: MetaSimulator, *, token: str = TOKEN,
                  org_id: uuid.UUID | None = None) -> tuple[Integration, dict[str, uuid.UUID]]:
    """A new organization (unless given) with every simulator campaign linked to an active campaign of
    ours, and its Meta integration; returns it and Meta campaign id → our campaign id."""
    if org_id is None:
        org_id = await create_org(db)
    now = wall_of(sim)()
    links: dict[str, uuid.UUID] = {}
    for meta_id, campaign in sim.world.campaigns.items():
        ours = await create_campaign(db, org_id, name=campaign.name, budget=1000.0, start=now - timedelta(days=60),
                                     end=now + timedelta(days=30), status="active")
        await link_meta(db, org_id, ours, ad_account_id=f"act_{campaign.account_id}", meta_campaign_id=meta_id,
                        effective_status=None)
        links[meta_id] = ours
    integration = await connect_integration(db, org_id, key=KEY, access_token=token, scopes=["ads_read"])
    return integration, links


async def make_actor(db: Database, sim: MetaSimulator, integration: Integration, registry: Registry,
                     samples: trio.MemorySendChannel[MetricSample], *, pacer: Pacer | None = None,
                     schedule: MetaSchedule = MetaSchedule(), name: str = "meta:test",  # noqa: B008
                     signals: MetaWriteSignals | None = None) -> MetaAccountActor:
    """The actor of ``integration``, under the lease ``name`` (claimed unless a previous actor of the test
    did): its writes are fenced; its samples go to the test, where nothing checks their lease."""
    token = await db.fetchval("SELECT token FROM engine_leases WHERE name = $1", name)
    lease = Lease(name, token) if isinstance(token, int) else await claim_lease(db, name)
    return MetaAccountActor(db, integration, key=KEY, lease=lease, registry=registry, samples=samples,
                            pacer=pacer or Pacer(meta_window), http_factory=http_factory(sim),
                            provider=meta_ads(Settings().meta), schedule=schedule,
                            retry=RetryPolicy(base=1.0, factor=2.0, cap=60.0), rng=random.Random(7),
                            wall=wall_of(sim), signals=signals)


def local_today(sim: MetaSimulator) -> date:
    account = next(iter(sim.world.accounts.values()))
    return sim.world.local_date(account)


def truth_of(sim: MetaSimulator, meta_id: str, day: date) -> dict[str, int]:
    metrics = sim.world.truth(meta_id, day)[()]
    return {"spend_minor": metrics.spend_minor, "impressions": metrics.impressions, "clicks": metrics.clicks}


async def test_samples_equal_the_truth_and_restatements_replace_past_days(db: Database, clock: MockClock) -> None:
    sim = simulator(restatement_rate=0.3)
    integration, links = await connect(db, sim)
    ours = {value: key for key, value in links.items()}
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](64)
    latest: dict[tuple[str, date, str], int] = {}
    restated: set[tuple[str, date, str]] = set()

    async def check_each() -> None:
        async for sample in receive:
            meta_id = ours[sample.campaign_id]
            assert sample.source == f"meta:{meta_id}"
            assert sample.currency == ("USD" if sample.metric == "spend_minor" else None)
            assert sample.value == truth_of(sim, meta_id, sample.day)[sample.metric]  # as of this moment
            key = (meta_id, sample.day, sample.metric)
            if key in latest and latest[key] != sample.value and sample.day < local_today(sim) - timedelta(days=1):
                restated.add(key)
            latest[key] = sample.value

    begin = trio.current_time()
    # 05:00 in Los Angeles at the start; the 28-day window is swept at 0, 6, 12, 18 and 24 h, local midnight
    # falls at 19 h, and we stop at 25 h: the last sweep saw every restatement up to now.
    with trio.move_on_at(begin + 25 * HOUR):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(check_each)
            await nursery.start((await make_actor(db, sim, integration, registry, send)).run)
    today = local_today(sim)
    assert today == date(2026, 9, 2)
    for meta_id in links:
        for back in range(1, 29):
            day = today - timedelta(days=back)
            for metric, value in truth_of(sim, meta_id, day).items():
                assert latest.get((meta_id, day, metric), 0) == value, (meta_id, day, metric)
    assert restated, "no past day was restated: the test proves nothing"
    detail = (registry.get("meta:test") or pytest.fail("no status")).detail or {}
    assert detail["consecutive_failures"] == 0 and detail["last_success_at"] is not None
    rows = await db.fetch("SELECT meta_effective_status FROM campaigns")
    assert {row["meta_effective_status"] for row in rows} == {"ACTIVE"}
    # The account's timezone names the days of its figures in analytics.
    (account,) = sim.world.accounts.values()
    stored = await db.fetch("SELECT account_id, currency, timezone_name FROM meta_ad_accounts")
    assert [tuple(row) for row in stored] == [(f"act_{account.account_id}", "USD", "America/Los_Angeles")]


async def test_a_full_channel_slows_the_actor_and_nothing_is_dropped(db: Database, clock: MockClock) -> None:
    sim = simulator()
    integration, links = await connect(db, sim)
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](1)
    lag = ("songtrack_poll_lag_seconds_sum", "songtrack_poll_lag_seconds_count")
    before = [_sample(name, kind="meta") for name in lag]
    async with trio.open_nursery() as nursery:
        began = trio.current_time()
        await nursery.start((await make_actor(db, sim, integration, registry, send)).run)
        await trio.sleep(HOUR)
        calls = len(sim.requests)
        await trio.sleep(3 * HOUR)  # twelve cycles' worth: a spinning or dropping poller would have called
        assert len(sim.requests) == calls
        assert ((registry.get("meta:test") or pytest.fail()).detail or {})["state"] == "waiting_for_aggregator"
        today = local_today(sim)
        expected = {(meta_id, today - timedelta(days=back), metric)
                    for meta_id in links for back in range(29)
                    for metric, value in truth_of(sim, meta_id, today - timedelta(days=back)).items()
                    if sum(truth_of(sim, meta_id, today - timedelta(days=back)).values())}
        got: set[tuple[str, date, str]] = set()
        ours = {value: key for key, value in links.items()}
        while len(got) < len(expected):
            sample = await receive.receive()
            got.add((ours[sample.campaign_id], sample.day, sample.metric))
        assert got == expected  # the whole first sweep, every metric of every delivering day
        unblocked = trio.current_time()
        await trio.sleep(HOUR)
        assert len(sim.requests) > calls  # unblocked, it polls again
        nursery.cancel_scope.cancel()
    # The first poll was on time; the second, due 15 minutes after the first began, began once unblocked.
    (lag_sum, polls) = (_sample(name, kind="meta") - was for name, was in zip(lag, before, strict=True))
    assert polls >= 2
    assert lag_sum >= unblocked - began - MetaSchedule().interval - 60  # 60: the sweep's own calls


async def test_an_actor_started_as_the_engine_stops_returns_without_a_call(db: Database, clock: MockClock) -> None:
    """A stop that comes while the accounts supervisor starts actors closes the samples channel before the
    last ones run: they stop at once, quietly (each crashed and was logged as an error before)."""
    sim = simulator()
    integration, _ = await connect(db, sim)
    registry = Registry()
    send, _receive = trio.open_memory_channel[MetricSample](1)
    actor = await make_actor(db, sim, integration, registry, send)
    send.close()
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
    assert ((registry.get("meta:test") or pytest.fail()).detail or {})["state"] == "stopped"
    assert sim.requests == []


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_usage_meta_reports_is_the_gauge_of_its_domain(db: Database, clock: MockClock) -> None:
    config = SimulatorConfig(seed=5, accounts=1, campaigns_per_account=2, app_calls_per_hour=200)
    sim = MetaSimulator(config, SimClock(parse_start(config.start), 1.0, trio.current_time))
    integration, _ = await connect(db, sim)
    send, receive = trio.open_memory_channel[MetricSample](64)
    with trio.move_on_after(600):  # the first cycle, within one hour of the app's allowance
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, receive)
            await nursery.start((await make_actor(db, sim, integration, Registry(), send)).run)
    # X-App-Usage's call_count: the share of the hour's 200 calls used, as of the last answer.
    assert _sample("songtrack_provider_usage_percent", provider="meta", domain="meta:app") == \
        int(100 * len(sim.requests) / 200) > 0


async def test_a_failing_provider_backs_off_and_parks_while_another_account_polls_on_schedule(
        db: Database, clock: MockClock) -> None:
    failing, healthy = simulator(seed=11, error_500_rate=1.0), simulator(seed=12)
    bad, _ = await connect(db, failing)
    good, _ = await connect(db, healthy)
    registry, pacer = Registry(), Pacer(meta_window)  # one Pacer, as in the engine: the app's budget is shared
    send, receive = trio.open_memory_channel[MetricSample](64)
    begin = trio.current_time()
    with trio.move_on_at(begin + 2 * HOUR):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, receive)
            for sim, integration, name in ((failing, bad, "meta:bad"), (healthy, good, "meta:good")):
                actor = await make_actor(db, sim, integration, registry, send, pacer=pacer, name=name)
                await nursery.start(actor.run)

    times = [logged.at for logged in failing.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps[:7])), gaps  # growing
    assert max(gaps) >= 1800  # parked for park_for after 8 failures in a row
    assert len(times) < 20
    bad_status = registry.get("meta:bad") or pytest.fail()
    assert bad_status.state == ActorState.RUNNING  # it parks itself; it does not crash
    detail = bad_status.detail or {}
    assert int(detail["consecutive_failures"] or 0) >= 8 and "500" in str(detail["last_error"]), detail
    assert detail["state"] == "parked" and detail["parked_until"] is not None

    insights = [logged.at - healthy.requests[0].at for logged in healthy.requests if logged.path.endswith("/insights")]
    # At once, then at a random point of the first 15 minutes (the phase), then every 15 minutes for 2 hours.
    phase = insights[1]
    assert 0 < phase <= 900 + 60 and len(insights) == 1 + len(range(int(phase), int(2 * HOUR), 900)), insights
    assert all(abs(at - phase - 900 * n) < 60 for n, at in enumerate(insights[1:])), insights  # 60: a slow query
    assert ((registry.get("meta:good") or pytest.fail()).detail or {})["consecutive_failures"] == 0


async def _drain(receive: trio.MemoryReceiveChannel[MetricSample]) -> None:
    async for _ in receive:
        pass


async def test_needs_reauth_under_a_lease_taken_over_is_not_marked_and_the_actor_stops(
        db: Database, clock: MockClock) -> None:
    sim = simulator()
    integration, _ = await connect(db, sim, token="REVOKED_TOKEN")
    registry, refused = Registry(), _sample("songtrack_fenced_writes_total", write="needs_reauth")
    send, _ = trio.open_memory_channel[MetricSample](64)
    actor = await make_actor(db, sim, integration, registry, send)
    await take_over_lease(db, Lease("meta:test", 0))  # another engine process holds the integration now
    with trio.fail_after(HOUR):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
    # run returned by itself, having written nothing: the new holder decides about the token
    assert await db.fetchval("SELECT status FROM integrations WHERE id = $1", integration.id) == "connected"
    assert await db.fetchval("SELECT count(*) FROM webhook_events WHERE type = 'integration.needs_reauth'") == 0
    assert _sample("songtrack_fenced_writes_total", write="needs_reauth") - refused == 1
    detail = (registry.get("meta:test") or pytest.fail()).detail or {}
    assert detail["state"] == "stopped" and "lost to another engine process" in str(detail["last_error"])


async def test_a_revoked_token_marks_needs_reauth_and_emits_the_event(db: Database, clock: MockClock) -> None:
    sim = simulator()
    integration, _ = await connect(db, sim, token="REVOKED_TOKEN")
    registry = Registry()
    send, receive = trio.open_memory_channel[MetricSample](64)
    with trio.fail_after(HOUR):
        async with trio.open_nursery() as nursery:
            await nursery.start((await make_actor(db, sim, integration, registry, send)).run)
    # run returned by itself: the actor stops polling
    assert await db.fetchval("SELECT status FROM integrations WHERE id = $1", integration.id) == "needs_reauth"
    rows = await db.fetch("SELECT type, payload FROM webhook_events WHERE organization_id = $1"
                          " AND type = 'integration.needs_reauth'", integration.organization_id)
    assert [row["type"] for row in rows] == ["integration.needs_reauth"]
    assert str(integration.id) in rows[0]["payload"] and "REVOKED_TOKEN" not in rows[0]["payload"]
    detail = (registry.get("meta:test") or pytest.fail()).detail or {}
    assert detail["state"] == "needs_reauth" and "190" in str(detail["last_error"])
    assert "REVOKED_TOKEN" not in str(detail)
    with pytest.raises(trio.EndOfChannel):  # the actor closed its clone of the channel
        send.close()
        await receive.receive()


async def test_a_campaign_of_ours_that_must_not_spend_is_paused_on_meta(db: Database, clock: MockClock) -> None:
    # Paused covers the budget guardrail's pause, which nothing pushes to Meta but this actor.
    sim = simulator(campaigns=4)
    integration, links = await connect(db, sim)
    _, paused, completed, archived = links  # the first stays active
    for meta_id, status in ((paused, "paused"), (completed, "completed"), (archived, "archived")):
        await db.execute("UPDATE campaigns SET status = $2 WHERE id = $1", links[meta_id], status)
    send, receive = trio.open_memory_channel[MetricSample](64)
    with trio.move_on_after(HOUR):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, receive)
            await nursery.start((await make_actor(db, sim, integration, Registry(), send)).run)
    async with http_factory(sim)() as graph:  # what Meta itself now says, over its Graph API
        answers = [await graph.get(f"/{Settings().meta.api_version}/{meta_id}",
                                   params={"fields": "effective_status", "access_token": TOKEN})
                   for meta_id in links]
    assert [answer.json()["effective_status"] for answer in answers] == ["ACTIVE", "PAUSED", "PAUSED", "PAUSED"]
    stored = {row["id"]: row["meta_effective_status"] for row in await db.fetch(
        "SELECT id, meta_effective_status FROM campaigns")}
    assert [stored[links[meta_id]] for meta_id in links] == ["ACTIVE", "PAUSED", "PAUSED", "PAUSED"]


async def test_a_campaign_paused_while_its_figures_were_sent_is_paused_on_meta_in_that_cycle(
        db: Database, clock: MockClock) -> None:
    # As the aggregator's guardrail does: our status changes after the cycle began, before Meta is asked.
    sim = simulator(campaigns=1)
    integration, links = await connect(db, sim)
    (meta_id, ours), = links.items()
    send, receive = trio.open_memory_channel[MetricSample](0)  # the actor's next send waits for our UPDATE

    async def pause_on_first_sample() -> None:
        await receive.receive()
        await db.execute("UPDATE campaigns SET status = 'paused' WHERE id = $1", ours)
        await _drain(receive)

    with trio.move_on_after(600):  # the first cycle only: the next is 15 minutes after it
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pause_on_first_sample)
            await nursery.start((await make_actor(db, sim, integration, Registry(), send)).run)
    assert sim.world.campaigns[meta_id].status == "PAUSED"
    assert await db.fetchval("SELECT meta_effective_status FROM campaigns WHERE id = $1", ours) == "PAUSED"
