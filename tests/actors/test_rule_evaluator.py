"""The rule evaluator against a real PostgreSQL: stored figures in, then the campaign paused, resumed or
re-budgeted with the rule as its cause, the history, the events, the notification and the queued Meta
write out; the cooldown; the order of two rules on one campaign; dry runs; untrusted figures.

The wall clock the rules see is fixed by each test (``_Wall``); the schedule's loop runs on a MockClock
jumped by hand (never autojump with the database, see tests/conftest.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from actors.meta_signals import MetaWriteSignals
from actors.rule_evaluator import RuleEvaluator
from config.sections import AnalyticsSettings, RulesSettings
from engine.guardrail import PauseCause, PausedReason
from engine.messages import MetricSample
from engine.rules.model import parse_spec
from engine.store import Database, facts
from engine.store import rules as rule_store
from engine.store.campaign_meta import link_meta
from engine.store.campaigns import get_campaign, set_campaign_status
from tests.helpers.factories import create_campaign, create_endpoint, create_org, create_track

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = START + timedelta(days=4, hours=12)


class _Wall:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _evaluator(db: Database, wall: _Wall, **rules: Any) -> RuleEvaluator:
    return RuleEvaluator(db, RulesSettings(**rules), AnalyticsSettings(), wall=wall)


async def _campaign(db: Database, org: uuid.UUID, *, budget: float = 100.0, status: str = "active",
                    spend_per_day: int = 1000, track: uuid.UUID | None = None) -> uuid.UUID:
    """A campaign of ``org`` that started at START, with ``spend_per_day`` cents a day so far (and 10,000
    impressions, 100 clicks a day)."""
    campaign = await create_campaign(db, org, budget=budget, start=START, status=status, track_id=track)
    samples = [MetricSample(organization_id=org, campaign_id=campaign, day=START.date() + timedelta(days=i),
                            metric=metric, value=value, source="meta:1", observed_at=NOW,  # type: ignore[arg-type]
                            currency="USD" if metric == "spend_minor" else None)
               for i in range(5) for metric, value in (("spend_minor", spend_per_day), ("impressions", 10_000),
                                                        ("clicks", 100))]
    async with db.transaction() as tx:
        await facts.upsert_samples(tx, samples)
    return campaign


async def _rule(db: Database, org: uuid.UUID, body: dict[str, Any], *, dry_run: bool = False,
                at: datetime = START) -> uuid.UUID:
    rule = await rule_store.create_rule(db, org, name=body["name"], description=None, status="active",
                                        dry_run=dry_run, spec=parse_spec(body), created_by=None, now=at)
    return rule.id


def _body(name: str, field: str, operator: str, expected: object, action: str, *, hours: int | None = 24,
          cooldown: int = 24, **config: object) -> dict[str, Any]:
    return {"name": name, "condition": {"field": field, "operator": operator, "value": expected,
                                        "durationHours": hours},
            "action": {"type": action, "config": config}, "appliesTo": {"campaigns": None}, "cooldownHours": cooldown}


async def _events(db: Database, org: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM webhook_events WHERE organization_id = $1 AND type = $2"
                          " ORDER BY created_at, id", org, kind)
    return [msgspec.json.decode(row["payload"])["data"] for row in rows]


async def _history(db: Database, org: uuid.UUID, campaign: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT rule_id, outcome, detail, before, after, meta, dry_run, inputs FROM rule_runs"
                          " WHERE organization_id = $1 AND campaign_id = $2 ORDER BY at, seq", org, campaign)
    return [{**dict(row), **{k: msgspec.json.decode(row[k]) if row[k] is not None else None
                             for k in ("before", "after", "meta", "inputs")}} for row in rows]


async def test_a_pause_rule_pauses_the_campaign_records_why_and_tells_the_endpoints(db: Database) -> None:
    org = await create_org(db)
    await create_endpoint(db, org)
    campaign = await _campaign(db, org)  # 10.00 USD a day
    rule = await _rule(db, org, _body("Too much today", "spend", "greater_than", "5", "pause_campaign"))
    wall = _Wall(NOW)
    await _evaluator(db, wall).evaluate(org, [campaign])

    stored = await get_campaign(db, org, campaign)
    assert stored is not None and stored.status == "paused"
    assert stored.paused_reason == PausedReason(cause=PauseCause(rule_id=rule), at=NOW)
    [run] = await _history(db, org, campaign)
    assert run["rule_id"] == rule and run["outcome"] == "applied" and run["meta"] is None  # not linked to Meta
    assert run["before"] == {"status": "active"} and run["after"] == {"status": "paused"}
    assert run["inputs"]["conditions"][0] | {"actual": "10.00"} == run["inputs"]["conditions"][0]
    [paused] = await _events(db, org, "campaign.paused")
    assert paused["cause"] == {"ruleId": str(rule)}
    [triggered] = await _events(db, org, "rule.triggered")
    assert triggered["ruleId"] == str(rule) and triggered["outcome"] == "applied"
    assert triggered["conditions"][0]["met"] is True and triggered["conditions"][0]["expected"] == "5"
    stored_rule = await rule_store.get_rule(db, org, rule)
    assert stored_rule is not None and stored_rule.trigger_count == 1 and stored_rule.last_triggered_at == NOW
    # The audit log names the rule as the actor of the campaign's change, and only of that.
    [audited] = await db.fetch("SELECT actor_type, actor_rule_id, actor_label, action, source, after ->> 'status'"
                               " AS status FROM audit_log WHERE organization_id = $1", org)
    assert dict(audited) == {"actor_type": "rule", "actor_rule_id": rule, "actor_label": "Too much today",
                             "action": "campaign.updated", "source": "rule", "status": "paused"}


async def test_a_linked_campaign_gets_its_meta_write_queued_with_the_run(db: Database) -> None:
    org = await create_org(db)
    campaign = await _campaign(db, org, budget=100.0)
    await link_meta(db, org, campaign, ad_account_id="act_1", meta_campaign_id="120001", effective_status="ACTIVE")
    await _rule(db, org, _body("Cut", "ctr", "gte", "0.5", "adjust_budget", adjustmentType="percent", value="-50"))
    signals, woken = MetaWriteSignals(), trio.Event()

    async def meta_actor() -> None:  # as the organization's Meta account actor waits between polls
        await signals.wait(org)
        woken.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(meta_actor)
        await trio.sleep(0.01)
        evaluator = RuleEvaluator(db, RulesSettings(), AnalyticsSettings(), wall=_Wall(NOW), signals=signals)
        await evaluator.evaluate(org, [campaign])
        with trio.fail_after(1):
            await woken.wait()  # told once the firing committed

    stored = await get_campaign(db, org, campaign)
    assert stored is not None and stored.budget == 80.0  # -50 % asked, at most 20 % a step
    [run] = await _history(db, org, campaign)
    assert run["meta"]["state"] == "pending" and run["after"] == {"budget": "80.00"}
    write = await db.fetchrow("SELECT field, value, cause, run_id, state FROM meta_writes WHERE campaign_id = $1",
                              campaign)
    assert write is not None and write["field"] == "budget" and write["state"] == "pending"
    assert msgspec.json.decode(write["value"]) == {"budget": "80.00", "currency": "USD"}
    [changed] = await _events(db, org, "campaign.budget_changed")
    assert changed["budget"] == 80.0 and changed["previousBudget"] == 100.0
    assert changed["cause"] == msgspec.json.decode(write["cause"]) == {"ruleId": changed["cause"]["ruleId"]}


async def test_two_rules_on_one_campaign_act_in_the_order_they_were_created(db: Database) -> None:
    org = await create_org(db)
    first, second = await _campaign(db, org), await _campaign(db, org)
    # On ``first`` the pause rule was created before the resume rule; on ``second`` after it.
    pause = _body("Pause", "spend", "gte", "1", "pause_campaign", hours=None)
    resume = _body("Resume", "status", "equals", "paused", "resume_campaign", hours=None)
    scoped = [{**body, "appliesTo": {"campaigns": [str(campaign)]}}
              for body, campaign in ((pause, first), (resume, first), (resume, second), (pause, second))]
    for i, body in enumerate(scoped):
        await _rule(db, org, body, at=START + timedelta(seconds=i))
    await _evaluator(db, _Wall(NOW)).evaluate(org, [first, second])

    # first: paused, then the resume rule sees a campaign a rule paused, and resumes it.
    assert [r["after"] for r in await _history(db, org, first)] == [{"status": "paused"}, {"status": "active"}]
    # second: the resume rule sees an active campaign (nothing to do, no firing), then the pause acts.
    assert [r["after"] for r in await _history(db, org, second)] == [{"status": "paused"}]
    statuses = [(await get_campaign(db, org, c)).status for c in (first, second)]  # type: ignore[union-attr]
    assert statuses == ["active", "paused"]


async def test_a_resume_rule_leaves_a_campaign_a_member_paused_and_does_not_retry_within_its_cooldown(
        db: Database) -> None:
    org = await create_org(db)
    campaign = await _campaign(db, org)
    await set_campaign_status(db, org, campaign, expected_from=("active",), to="paused",
                              reason=PausedReason(cause=PauseCause(user_id=uuid.uuid4()), at=START))
    await _rule(db, org, _body("Back", "status", "equals", "paused", "resume_campaign", cooldown=24))
    wall = _Wall(NOW)
    evaluator = _evaluator(db, wall)
    for hours in (0, 1, 23):
        wall.now = NOW + timedelta(hours=hours)
        await evaluator.evaluate(org, [campaign])
    [refused] = await _history(db, org, campaign)
    assert refused["outcome"] == "refused" and "member" in refused["detail"]
    wall.now = NOW + timedelta(hours=24)
    await evaluator.evaluate(org, [campaign])
    assert [r["outcome"] for r in await _history(db, org, campaign)] == ["refused", "refused"]
    stored = await get_campaign(db, org, campaign)
    assert stored is not None and stored.status == "paused"


async def test_a_dry_run_rule_records_its_firing_and_does_nothing(db: Database) -> None:
    org = await create_org(db)
    await create_endpoint(db, org)
    campaign = await _campaign(db, org)
    await _rule(db, org, _body("Try", "spend", "greater_than", "5", "pause_campaign"), dry_run=True)
    await _evaluator(db, _Wall(NOW)).evaluate(org, [campaign])
    [run] = await _history(db, org, campaign)
    assert run["outcome"] == "dry_run" and run["dry_run"] and run["after"] == {"status": "paused"}
    stored = await get_campaign(db, org, campaign)
    assert stored is not None and stored.status == "active"
    assert await _events(db, org, "rule.triggered") == [] and await _events(db, org, "campaign.paused") == []


async def test_a_thin_baseline_is_not_acted_on_and_the_rule_still_counts_as_evaluated(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    campaign = await _campaign(db, org, track=track)
    # Two days of streams before the campaign: fewer than [analytics] min_baseline_days (7).
    await db.execute("INSERT INTO stream_days (track_id, day, country, platform, streams, updated_at)"
                     " VALUES ($1, $2, 'SE', 'spotify', 10, $4), ($1, $3, 'SE', 'spotify', 12, $4)",
                     track, date(2026, 2, 27), date(2026, 2, 28), START)
    rule = await _rule(db, org, _body("Costly", "costPerIncrementalStream", "greater_than", "0", "pause_campaign"))
    await _evaluator(db, _Wall(NOW)).evaluate(org, [campaign])
    assert await _history(db, org, campaign) == []
    stored = await rule_store.get_rule(db, org, rule)
    assert stored is not None and stored.last_evaluated_at == NOW and stored.trigger_count == 0


async def test_send_alert_notifies_the_members(db: Database) -> None:
    org = await create_org(db)
    campaign = await _campaign(db, org)
    await _rule(db, org, _body("Heads up", "cpm", "greater_than", "0.5", "send_alert", message="CPM is high"))
    await _evaluator(db, _Wall(NOW)).evaluate(org, [campaign])
    rows = await db.fetch("SELECT type, title FROM notifications WHERE organization_id = $1", org)
    assert [(r["type"], r["title"]) for r in rows] == [("rule.triggered", "CPM is high")]


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Moved by hand only: it stands still while the database answers (see tests/conftest.py)."""
    return trio.testing.MockClock(rate=0)


async def test_the_schedule_evaluates_every_rule_and_the_cooldown_holds_on_the_mock_clock(
        db: Database, clock: trio.testing.MockClock) -> None:
    org = await create_org(db)
    campaign = await _campaign(db, org)
    rule = await _rule(db, org, _body("Ping", "spend", "gte", "1", "webhook", hours=None, cooldown=6))
    start = trio.current_time()
    evaluator = RuleEvaluator(db, RulesSettings(evaluate_every=3600), AnalyticsSettings(),
                              wall=lambda: NOW + timedelta(seconds=trio.current_time() - start))
    fired: list[int] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(evaluator.run_schedule)
        for hour in range(13):  # the round at start (0 h), then one an hour: fires at 0, 6 and 12 h
            while evaluator.evaluations <= hour:  # the round's transaction is done when it counted
                await trio.lowlevel.checkpoint()
            fired.append(evaluator.firings)
            if hour < 12:
                clock.jump(3600)
        while (stored := await rule_store.get_rule(db, org, rule)) is None or stored.trigger_count < 3:
            pass  # the last round commits
        nursery.cancel_scope.cancel()
    assert fired == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3]
    assert len(await _events(db, org, "rule.triggered")) == 3
    del campaign
