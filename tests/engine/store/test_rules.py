"""``engine.store.rules`` and ``engine.store.rule_runs`` against a real PostgreSQL: the spec stored and read
back as it was, the evaluation order, the marks of evaluation and firing, the cooldowns per (rule,
campaign), the history newest first, and every read scoped by organization.

Rules: each test gets a fresh migrated database from the ``db`` fixture; real time only; a ``fail_after`` on
every test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import trio

from engine.rules.model import AppliesTo, RuleSpec, parse_spec
from engine.store import Database, rule_runs
from engine.store import rules as store
from tests.helpers.factories import create_campaign, create_org, create_track

T0 = datetime(2027, 1, 15, 8, tzinfo=UTC)
SPEC = parse_spec({"conditions": [{"field": "spend", "operator": "gte", "value": {"field": "budget", "multiplier": 2},
                                   "durationHours": 48}, {"field": "status", "operator": "in", "value": ["active"]}],
                   "match": "any", "action": {"type": "adjust_budget", "config": {"adjustmentType": "percent",
                                                                                  "value": -20, "floor": 10}},
                   "cooldownHours": 6})


async def _rule(db: Database, org: uuid.UUID, name: str, *, at: datetime = T0, status: str = "active",
                spec: RuleSpec = SPEC) -> uuid.UUID:
    rule = await store.create_rule(db, org, name=name, description=None, status=status, dry_run=False, spec=spec,
                                   created_by=None, now=at)
    return rule.id


async def test_the_spec_round_trips_and_updates_keep_the_cooldown_column(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        rule = await store.get_rule(db, org, await _rule(db, org, "Cut"))
        assert rule is not None and rule.spec == SPEC and rule.trigger_count == 0
        other = parse_spec({"condition": {"field": "name", "operator": "contains", "value": "x"},
                            "action": {"type": "pause_campaign"}, "cooldownHours": 0})
        later = T0 + timedelta(hours=1)
        updated = await store.update_rule(db, org, rule.id, {"spec": other, "name": "Pause"}, now=later)
        assert updated is not None and (updated.spec, updated.name, updated.updated_at) == (other, "Pause", later)
        assert await db.fetchval("SELECT cooldown_hours FROM rules WHERE id = $1", rule.id) == 0
        assert await store.update_rule(db, await create_org(db), rule.id, {"name": "Stolen"}, now=later) is None
        assert not await store.delete_rule(db, await create_org(db), rule.id)
        assert await store.delete_rule(db, org, rule.id) and await store.get_rule(db, org, rule.id) is None


async def test_active_rules_come_in_evaluation_order(db: Database) -> None:
    with trio.fail_after(10):
        first, second = sorted([await create_org(db), await create_org(db)])
        late = await _rule(db, first, "late", at=T0 + timedelta(minutes=1))
        early = await _rule(db, first, "early")
        await _rule(db, first, "off", at=T0 + timedelta(minutes=2), status="inactive")
        theirs = await _rule(db, second, "theirs")
        assert [r.id for r in await store.active_rules(db)] == [early, late, theirs]
        assert [r.id for r in await store.active_rules(db, [second])] == [theirs]
        page = await store.list_rules(db, first, limit=2)
        assert ([r.name for r in page.items], page.total, page.has_next) == (["early", "late"], 3, True)
        assert [r.name for r in (await store.list_rules(db, first, status="inactive")).items] == ["off"]


async def test_marks_and_cooldowns(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        rule, c1, c2 = await _rule(db, org, "r"), await create_campaign(db, org), await create_campaign(db, org)
        await store.mark_evaluated(db, [rule], T0)
        await store.mark_evaluated(db, [rule], T0 - timedelta(hours=1))  # a late batch never moves it back
        await store.mark_triggered(db, rule, T0)
        await store.mark_triggered(db, rule, T0 + timedelta(hours=1))
        got = await store.get_rule(db, org, rule)
        assert got is not None
        assert (got.last_evaluated_at, got.last_triggered_at, got.trigger_count) == (T0, T0 + timedelta(hours=1), 2)
        await store.set_fired(db, rule, c1, T0)
        await store.set_fired(db, rule, c1, T0 + timedelta(hours=2))
        assert await store.last_fired(db, [rule], [c1, c2]) == {(rule, c1): T0 + timedelta(hours=2)}


async def test_foreign_targets_names_ids_that_are_not_the_organizations(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await create_org(db), await create_org(db)
        mine, theirs = await create_campaign(db, org), await create_campaign(db, other)
        track = await create_track(db, other)
        scope = AppliesTo(campaigns=[mine, theirs, uuid.uuid4()], tracks=[track])
        assert await store.foreign_targets(db, org, scope) == [
            "appliesTo.campaigns[1]", "appliesTo.campaigns[2]", "appliesTo.tracks[0]"]
        assert await store.foreign_targets(db, org, AppliesTo()) == []


async def test_history_is_newest_first_and_scoped(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        rule, campaign = await _rule(db, org, "r"), await create_campaign(db, org)
        for hours, manual in ((0, False), (2, True), (1, False)):
            await rule_runs.insert_run(
                db, org, rule_id=None if manual else rule, rule_name=None if manual else "r", campaign_id=campaign,
                manual=manual, user_id=None, dry_run=False, at=T0 + timedelta(hours=hours),
                inputs={"spend": "12.50"}, action={"type": "pause_campaign", "config": {}}, outcome="applied",
                detail=None, before={"status": "active"}, after={"status": "paused"},
                meta={"state": "applied"} if hours else None)  # fmt: skip
        page = await rule_runs.list_runs(db, org, campaign_id=campaign)
        assert [(r.at - T0, r.manual) for r in page.items] == [(timedelta(hours=2), True), (timedelta(hours=1), False),
                                                               (timedelta(0), False)]
        assert page.items[-1].meta is None and page.items[0].meta == {"state": "applied"}
        assert page.items[0].inputs == {"spend": "12.50"}
        assert (await rule_runs.list_runs(db, org, rule_id=rule)).total == 2
        assert (await rule_runs.list_runs(db, await create_org(db), campaign_id=campaign)).total == 0
