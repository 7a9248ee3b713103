"""The aggregator against a real PostgreSQL: samples in, then facts, totals, alerts, notifications and the
webhook outbox out, one transaction per batch; backpressure on a full inbox; a drain on stop.

Rules: real time only (never the autojump clock with the database), a ``fail_after`` on every test, and the
wall clock the rules see is fixed by the test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import msgspec
import pytest
import trio
import trio.testing
from prometheus_client import REGISTRY

from actors.aggregator import AGGREGATOR, AGGREGATOR_SWEEP, Aggregator
from config.sections import AlertsSettings, RulesSettings
from engine.guardrail import GuardrailTrip, PauseCause, PausedReason
from engine.messages import MetricSample
from engine.store import Database
from engine.store.alerts import ALERTS_CHANNEL
from engine.store.campaigns import Goal, get_campaign, set_campaign_status
from engine.store.rule_runs import list_runs
from tests.helpers.factories import create_campaign, create_endpoint, create_org

START = datetime(2024, 6, 1, tzinfo=UTC)
NOW = START + timedelta(days=1)  # day 1 of 30: spend crossing 50 % already paces far too fast
DAY = date(2024, 6, 1)


async def _setup(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    org = await create_org(db)
    campaign = await create_campaign(db, org, start=START, goals=[Goal(metric="streams", target=50)])
    await create_endpoint(db, org, "budget.warning", url="https://hooks.example.com/x")
    return org, campaign


def _spend(org: uuid.UUID, campaign: uuid.UUID, cents: int, seen: int, metric: str = "spend_minor") -> MetricSample:
    return MetricSample(organization_id=org, campaign_id=campaign, day=DAY, metric=metric,  # type: ignore[arg-type]
                        value=cents, source="meta:1", observed_at=NOW + timedelta(seconds=seen),
                        currency="USD" if metric == "spend_minor" else None)


def _batches() -> tuple[float, float]:
    """The process's batch histogram (``engine.metrics``): how many batches, how many samples in them."""
    count, total = (REGISTRY.get_sample_value(f"songtrack_aggregator_batch_samples_{part}") or 0.0
                    for part in ("count", "sum"))
    return count, total


async def _count(db: Database, sql: str, *args: object) -> int:
    value = await db.fetchval(sql, *args)
    assert isinstance(value, int)
    return value


async def test_samples_become_facts_totals_and_one_warning_per_threshold(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        aggregator = Aggregator(db, AlertsSettings(), wall=lambda: NOW)
        async with trio.open_nursery() as nursery:
            await nursery.start(aggregator.run)
            async with aggregator.sender() as outbox:
                # Up and down (a restatement) and up again, in separate batches: 50 % and 80 % once each.
                for seen, cents in enumerate([3000, 5500, 4000, 8200, 7000, 8100]):
                    await outbox.send(_spend(org, campaign, cents, seen))
                    await trio.sleep(0.05)
                await outbox.send(_spend(org, campaign, 60, 10, "streams"))
            aggregator.stop()
        stored = await get_campaign(db, org, campaign)
        assert stored is not None and stored.budget_spent == 81.0 and stored.metrics.streams == 60
        assert await _count(db, "SELECT count(*) FROM campaign_daily_facts") == 2
        warnings = await db.fetch("SELECT dedupe_key FROM alerts WHERE type = 'budget.warning' ORDER BY 1")
        assert [r["dedupe_key"] for r in warnings] == [f"budget.warning:{campaign}:0.5",
                                                       f"budget.warning:{campaign}:0.8"]
        assert await _count(db, "SELECT count(*) FROM notifications WHERE type = 'budget.warning'") == 2
        assert await _count(db, "SELECT count(*) FROM webhook_events WHERE type = 'budget.warning'") == 2
        assert await _count(db, "SELECT count(*) FROM webhook_deliveries") == 2  # subscribed to warnings only
        assert await _count(db, "SELECT count(*) FROM alerts WHERE type = 'goal.reached'") == 1
        assert await _count(db, "SELECT count(*) FROM alerts WHERE type = 'budget.pacing'") == 1
        # metrics.updated: one per minute bucket, a webhook event but no notification.
        assert await _count(db, "SELECT count(*) FROM alerts WHERE type = 'metrics.updated'") == 1
        assert await _count(db, "SELECT count(*) FROM notifications WHERE type = 'metrics.updated'") == 0
        events = await _count(db, "SELECT count(*) FROM webhook_events WHERE type NOT IN"
                                  " ('alert.fired', 'campaign.created')")
        assert events == await _count(db, "SELECT count(*) FROM alerts")
        # alert.fired: one per alert people are notified of, alongside its own type.
        fired = await _count(db, "SELECT count(*) FROM webhook_events WHERE type = 'alert.fired'")
        assert fired == await _count(db, "SELECT count(*) FROM notifications") == 4
        assert aggregator.samples_written == 7


async def test_a_full_inbox_blocks_the_sender_and_nothing_is_lost(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        aggregator = Aggregator(db, AlertsSettings(), capacity=2, max_batch=3, wall=lambda: NOW)
        sent, batches = 0, _batches()
        async with trio.open_nursery() as nursery:
            outbox = aggregator.sender()

            async def produce() -> None:
                nonlocal sent
                async with outbox:
                    for i in range(20):
                        await outbox.send(_spend(org, campaign, 100 + i, i, "clicks"))
                        sent += 1

            nursery.start_soon(produce)
            await trio.testing.wait_all_tasks_blocked()
            assert sent == 2  # the inbox holds two; the third send waits for the aggregator
            await nursery.start(aggregator.run)
            aggregator.stop()
        assert sent == 20 and aggregator.samples_written == 20
        stored = await get_campaign(db, org, campaign)
        assert stored is not None and stored.metrics.clicks == 119  # the latest observation wins
        written = [after - before for after, before in zip(_batches(), batches, strict=True)]
        assert written[1] == 20 and 20 / 3 <= written[0] <= 20  # batches of at most 3: at least 7 of them


async def test_each_fired_alert_is_announced_at_commit_for_live_connections(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        aggregator = Aggregator(db, AlertsSettings(budget_thresholds=[1.0]), wall=lambda: NOW)
        async with db.listen(ALERTS_CHANNEL) as announced:
            async with trio.open_nursery() as nursery:
                await nursery.start(aggregator.run)
                async with aggregator.sender() as outbox:
                    await outbox.send(_spend(org, campaign, 10_000, 0))
                aggregator.stop()
            payloads = [(await announced.receive()).payload for _ in range(3)]
        fired = {f"{org}:{row['id']}": row["type"] for row in await db.fetch("SELECT id, type FROM alerts")}
        assert sorted(fired[payload] for payload in payloads) == ["budget.pacing", "budget.warning", "metrics.updated"]


async def test_a_failed_batch_is_retried_on_the_next_run(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        aggregator = Aggregator(db, AlertsSettings(), wall=lambda: NOW)
        await db.execute("ALTER TABLE campaign_daily_facts ADD CONSTRAINT tmp_block CHECK (value < 0) NOT VALID")
        async with aggregator.sender() as outbox:
            await outbox.send(_spend(org, campaign, 5, 0, "clicks"))
        # Raised out of the nursery that receives the next batch meanwhile; the supervisor would restart us.
        with pytest.RaisesGroup(asyncpg.CheckViolationError):
            await aggregator.run()
        await db.execute("ALTER TABLE campaign_daily_facts DROP CONSTRAINT tmp_block")
        aggregator.stop()
        await aggregator.run()
        assert aggregator.samples_written == 1
        assert await _count(db, "SELECT clicks FROM campaigns WHERE id = $1", campaign) == 5


async def test_alerts_of_a_rolled_back_batch_fire_when_it_is_retried(db: Database) -> None:
    """The aggregator remembers the alerts it fired, so its rules stop offering them, only once their batch
    committed: a batch that failed after its rules ran fires its alerts again when it is retried."""
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        aggregator = Aggregator(db, AlertsSettings(), wall=lambda: NOW)
        await db.execute("ALTER TABLE notifications ADD CONSTRAINT tmp_block CHECK (false) NOT VALID")
        async with aggregator.sender() as outbox:
            await outbox.send(_spend(org, campaign, 5500, 0))
        with pytest.RaisesGroup(asyncpg.CheckViolationError):
            await aggregator.run()
        await db.execute("ALTER TABLE notifications DROP CONSTRAINT tmp_block")
        aggregator.stop()
        await aggregator.run()
        warnings = await db.fetch("SELECT dedupe_key FROM alerts WHERE type = 'budget.warning'")
        assert [r["dedupe_key"] for r in warnings] == [f"budget.warning:{campaign}:0.5"]
        assert await _count(db, "SELECT count(*) FROM notifications WHERE type = 'budget.warning'") == 1


def test_child_spec_names_the_actor_and_its_sweep() -> None:
    aggregator = Aggregator(None, AlertsSettings())  # type: ignore[arg-type]
    spec, sweep = aggregator.child_spec(), aggregator.sweeper()
    assert (spec.name, spec.restart) == (AGGREGATOR, "transient") and spec.stop is not None
    assert (sweep.name, sweep.restart, sweep.stop) == (AGGREGATOR_SWEEP, "permanent", None)


async def test_a_campaign_that_ends_without_a_sample_is_announced_once_by_the_sweep(db: Database) -> None:
    with trio.fail_after(20):
        _, campaign = await _setup(db)
        await db.execute("UPDATE campaigns SET status = 'active' WHERE id = $1", campaign)
        after_end = START + timedelta(days=31)
        aggregator = Aggregator(db, AlertsSettings(), wall=lambda: after_end, sweep_every=0.05)
        async with trio.open_nursery() as nursery:
            await nursery.start(aggregator.run)
            await nursery.start(aggregator.sweep_forever)
            while True:  # no sample arrives: only the sweep can announce it
                if await _count(db, "SELECT count(*) FROM alerts WHERE type = 'campaign.completed'"):
                    break
                await trio.sleep(0.02)
            await trio.sleep(0.3)  # several more sweeps: none may announce it again
            aggregator.stop()
            nursery.cancel_scope.cancel()
        completed = await db.fetch("SELECT campaign_id FROM alerts WHERE type = 'campaign.completed'")
        assert [r["campaign_id"] for r in completed] == [campaign]
        assert await _count(db, "SELECT count(*) FROM webhook_events WHERE type = 'campaign.completed'") == 1
        assert await _count(db, "SELECT count(*) FROM notifications WHERE type = 'campaign.completed'") == 1
        assert await db.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign) == "completed"


async def _run_batches(db: Database, wall: list[datetime], *batches: list[MetricSample],
                       rules: RulesSettings = RulesSettings()) -> None:  # noqa: B008 -- frozen
    """The aggregator fed ``batches`` one after the other, the wall clock two minutes on for each (so a
    campaign still running would fire ``metrics.updated`` again), then stopped."""
    aggregator = Aggregator(db, AlertsSettings(), wall=lambda: wall[0], sweep_every=3600, rules=rules)
    async with trio.open_nursery() as nursery:
        await nursery.start(aggregator.run)
        async with aggregator.sender() as outbox:
            for batch in batches:
                written = aggregator.samples_written
                for sample in batch:
                    await outbox.send(sample)
                while aggregator.samples_written < written + len(batch):  # noqa: ASYNC110 -- a counter, no event
                    await trio.sleep(0.02)
                wall[0] += timedelta(minutes=2)
        aggregator.stop()


async def _events_of(db: Database, campaign: uuid.UUID) -> list[str]:
    rows = await db.fetch("SELECT type FROM webhook_events WHERE payload->'data'->>'campaignId' = $1"
                          " AND type <> 'campaign.created' ORDER BY created_at, type", str(campaign))
    return [row["type"] for row in rows]


async def test_a_running_campaign_is_completed_by_the_first_sample_past_its_end_then_fires_nothing(
        db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        await db.execute("UPDATE campaigns SET status = 'paused' WHERE id = $1", campaign)
        wall = [START + timedelta(days=30, minutes=-1)]  # a minute before its end; each batch two minutes on
        samples = [_spend(org, campaign, 2000, 0), _spend(org, campaign, 2500, 1),
                   _spend(org, campaign, 60, 2, "streams")]
        await _run_batches(db, wall, *[[sample] for sample in samples])
        stored = await get_campaign(db, org, campaign)
        assert stored is not None and stored.status == "completed"
        assert stored.budget_spent == 25.0 and stored.metrics.streams == 60  # late facts still count
        # The second batch completes it (with its metrics); the third, though it reaches the goal, fires nothing.
        assert await _events_of(db, campaign) == ["metrics.updated", "alert.fired", "campaign.completed",
                                                  "metrics.updated"]


async def test_a_draft_past_its_end_stays_a_draft_and_is_not_announced_as_completed(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        await _run_batches(db, [START + timedelta(days=31)], [_spend(org, campaign, 100, 0)])
        assert await db.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign) == "draft"
        assert "campaign.completed" not in await _events_of(db, campaign)
        assert await _count(db, "SELECT count(*) FROM alerts WHERE type = 'campaign.completed'") == 0


@pytest.mark.parametrize("status", ["completed", "archived"])
async def test_a_finished_campaign_counts_late_facts_and_fires_nothing(db: Database, status: str) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)
        await db.execute("UPDATE campaigns SET status = $2 WHERE id = $1", campaign, status)
        over = [_spend(org, campaign, 9000, 0), _spend(org, campaign, 60, 1, "streams")]  # 90 %, goal reached
        await _run_batches(db, [NOW], over[:1], over[1:])
        stored = await get_campaign(db, org, campaign)
        assert stored is not None and stored.status == status
        assert stored.budget_spent == 90.0 and stored.metrics.streams == 60
        assert await _events_of(db, campaign) == []
        assert await _count(db, "SELECT count(*) FROM alerts") == 0


async def _paused_events(db: Database) -> list[dict[str, object]]:
    rows = await db.fetch("SELECT payload FROM webhook_events WHERE type = 'campaign.paused' ORDER BY created_at")
    return [msgspec.json.decode(row["payload"])["data"] for row in rows]


async def test_an_active_campaign_reaching_its_guardrail_is_paused_once_with_the_trip_as_cause(db: Database) -> None:
    with trio.fail_after(20):
        org, campaign = await _setup(db)  # a budget of 100 USD
        await db.execute("UPDATE campaigns SET status = 'active' WHERE id = $1", campaign)
        wall = [NOW]
        await _run_batches(db, wall, [_spend(org, campaign, 9_999, 0)], [_spend(org, campaign, 10_050, 1)],
                           [_spend(org, campaign, 12_000, 2)])
        stored = await get_campaign(db, org, campaign)
        assert stored is not None and (stored.status, stored.budget_spent) == ("paused", 120.0)  # facts still count
        trip = GuardrailTrip(percent=100, budget=100.0, budget_spent=100.5, currency="USD")
        assert stored.paused_reason == PausedReason(cause=PauseCause(guardrail=trip),
                                                    at=NOW + timedelta(minutes=2))  # the batch that reached it
        assert await _paused_events(db) == [{
            "campaignId": str(campaign), "campaignName": "Summer", "status": "paused", "previousStatus": "active",
            "cause": {"guardrail": {"percent": 100, "budget": 100.0, "budgetSpent": 100.5, "currency": "USD"}}}]
        # The campaign's history says so too (not linked to Meta: no write queued).
        history = await list_runs(db, org, campaign_id=campaign)
        assert [(run.rule_id, run.manual, run.action["type"], run.after, run.inputs) for run in history.items] == [
            (None, False, "pause_campaign", {"status": "paused"},
             {"guardrail": {"percent": 100, "budget": 100.0, "budgetSpent": 100.5, "currency": "USD"}})]
        assert await db.fetchval("SELECT count(*) FROM meta_writes") == 0
        titles = await db.fetch("SELECT title FROM notifications WHERE type = 'campaign.paused'")
        assert [row["title"] for row in titles] == [
            "“Summer” paused at its budget guardrail: 100.50 of its 100.00 USD budget spent"]
        # The audit log names the guardrail, and records none of the engine's own bookkeeping (the totals).
        audited = await db.fetch("SELECT actor_type, actor_label, action, source, after ->> 'status' AS status"
                                 " FROM audit_log WHERE organization_id = $1", org)
        assert [dict(row) for row in audited] == [{"actor_type": "system", "actor_label": "budget guardrail",
                                                   "action": "campaign.updated", "source": "guardrail",
                                                   "status": "paused"}]


async def test_the_campaign_percent_wins_over_the_rules_default_and_off_is_off(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        default, own, off = [await create_campaign(db, org, name=name, start=START, status="active")
                             for name in ("default", "own", "off")]
        await db.execute("UPDATE campaigns SET guardrail_percent = 110 WHERE id = $1", own)
        await db.execute("UPDATE campaigns SET guardrail_enabled = false WHERE id = $1", off)
        spend = [_spend(org, campaign, 12_000, 0) for campaign in (default, own, off)]  # 120 % of 100 USD
        await _run_batches(db, [NOW], spend, rules=RulesSettings(guardrail_percent=150))
        statuses = {row["id"]: row["status"] for row in await db.fetch("SELECT id, status FROM campaigns")}
        assert [statuses[c] for c in (default, own, off)] == ["active", "paused", "active"]
        assert [event["campaignName"] for event in await _paused_events(db)] == ["own"]


async def test_a_member_pause_keeps_its_cause_and_an_ended_campaign_completes_instead(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        member, user = await create_campaign(db, org, name="member", start=START, status="active"), uuid.uuid4()
        ended = await create_campaign(db, org, name="ended", start=START, end=NOW, status="active")
        await set_campaign_status(db, org, member, expected_from=("active",), to="paused",
                                  reason=PausedReason(cause=PauseCause(user_id=user), at=NOW))
        await _run_batches(db, [NOW], [_spend(org, campaign, 50_000, 0) for campaign in (member, ended)])
        stored = await get_campaign(db, org, member)
        assert stored is not None and stored.paused_reason == PausedReason(cause=PauseCause(user_id=user), at=NOW)
        assert await db.fetchval("SELECT status FROM campaigns WHERE id = $1", ended) == "completed"
        assert [event["cause"] for event in await _paused_events(db)] == [{"userId": str(user)}]  # the member's
