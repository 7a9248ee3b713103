"""``engine.store.meta_writes`` against a real PostgreSQL: the queue of writes to Meta, its one pending write
per campaign and field, and each outcome as the rule run, the campaign and the webhook outbox show it.

Rules: each test gets a fresh migrated database from the ``db`` fixture and makes its own organizations;
rule runs are inserted with SQL (``rule_run``); real time only; every test has a ``fail_after`` deadline.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import trio

from engine.guardrail import PauseCause
from engine.store import Database
from engine.store.campaign_meta import SYNC_FAILED, link_meta
from engine.store.campaigns import get_campaign
from engine.store.catalog_common import NotFound
from engine.store.meta_writes import (
    ACTION_FAILED,
    WriteError,
    enqueue_write,
    mark_applied,
    mark_refused,
    pending_unlinked,
    pending_writes,
    record_failed_attempt,
)
from tests.helpers import factories

NOW = datetime(2027, 1, 15, 12, tzinfo=UTC)
PAUSED, ACTIVE = {"status": "PAUSED"}, {"status": "ACTIVE"}


async def rule_run(db: Database, org: uuid.UUID, campaign: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A rule of ``org`` and one run of it on ``campaign``: their ids."""
    rule = await db.fetchval("INSERT INTO rules (organization_id, name, spec, cooldown_hours, created_at,"
                             " updated_at) VALUES ($1, 'Cut the budget', '{}', 24, $2, $2) RETURNING id", org, NOW)
    run = await db.fetchval("INSERT INTO rule_runs (organization_id, rule_id, rule_name, campaign_id, at, action,"
                            " outcome) VALUES ($1, $2, 'Cut the budget', $3, $4, '{}', 'applied') RETURNING id",
                            org, rule, campaign, NOW)
    assert isinstance(rule, uuid.UUID) and isinstance(run, uuid.UUID)
    return rule, run


async def run_meta(db: Database, run: uuid.UUID) -> object:
    return json.loads(await db.fetchval("SELECT meta::text FROM rule_runs WHERE id = $1", run))


async def events(db: Database, org: uuid.UUID, event_type: str) -> list[dict[str, object]]:
    rows = await db.fetch("SELECT payload::text AS p FROM webhook_events WHERE organization_id = $1 AND type = $2"
                          " ORDER BY created_at", org, event_type)
    return [json.loads(row["p"])["data"] for row in rows]


async def linked_campaign(db: Database, org: uuid.UUID, name: str = "Summer") -> uuid.UUID:
    campaign = await factories.create_campaign(db, org, name=name, status="active")
    await link_meta(db, org, campaign, ad_account_id="act_1", meta_campaign_id=f"120{name}", effective_status=None)
    return campaign


async def test_a_newer_write_supersedes_the_pending_one_of_its_campaign_and_field(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign, other = await linked_campaign(db, org), await linked_campaign(db, org, "Other")
        rule, run = await rule_run(db, org, campaign)
        cause = PauseCause(rule_id=rule)
        first = await enqueue_write(db, org, campaign, field="status", value=PAUSED, cause=cause, run_id=run, now=NOW)
        assert await run_meta(db, run) == {"state": "pending", "at": "2027-01-15T12:00:00Z"}
        budget = {"budget": "80.00", "currency": "USD"}
        await enqueue_write(db, org, campaign, field="budget", value=budget, cause=cause, run_id=None, now=NOW)
        await enqueue_write(db, org, other, field="status", value=PAUSED, cause=cause, run_id=None, now=NOW)
        async with db.transaction() as tx:  # as the rule evaluator calls it: in its own transaction
            later = NOW + timedelta(minutes=1)
            newer = await enqueue_write(tx, org, campaign, field="status", value=ACTIVE,
                                        cause=PauseCause(user_id=uuid.uuid4()), run_id=None, now=later)
        assert newer > first
        pending = await pending_writes(db, org, [campaign])
        assert [(w.field, w.value) for w in pending] == [("budget", budget), ("status", ACTIVE)]  # in id order
        assert pending[1].cause.user_id is not None and pending[1].created_at == later
        assert await db.fetchval("SELECT state FROM meta_writes WHERE id = $1", first) == "superseded"
        assert await run_meta(db, run) == {"state": "superseded", "at": "2027-01-15T12:01:00Z"}
        assert await pending_writes(db, await factories.create_org(db, "other"), [campaign]) == []


async def test_a_write_of_another_shape_or_organization_is_not_queued(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await factories.create_org(db), await factories.create_org(db, "other")
        campaign = await linked_campaign(db, org)
        cause = PauseCause(user_id=uuid.uuid4())
        for field, value in (("status", {"status": "DELETED"}), ("budget", {"budget": "lots", "currency": "USD"}),
                             ("budget", PAUSED), ("status", {"status": "PAUSED", "budget": "1"})):
            with pytest.raises(ValueError, match="write to Meta"):
                await enqueue_write(db, org, campaign, field=field, value=value, cause=cause,  # type: ignore[arg-type]
                                    run_id=None, now=NOW)
        with pytest.raises(NotFound):
            await enqueue_write(db, other, campaign, field="status", value=PAUSED, cause=cause, run_id=None, now=NOW)
        assert await db.fetchval("SELECT count(*) FROM meta_writes") == 0


async def test_a_rules_refusal_is_on_the_run_the_campaign_and_in_the_outbox(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign = await linked_campaign(db, org)
        rule, run = await rule_run(db, org, campaign)
        value = {"budget": "1.00", "currency": "USD"}
        await enqueue_write(db, org, campaign, field="budget", value=value, cause=PauseCause(rule_id=rule),
                            run_id=run, now=NOW)
        (write,) = await pending_writes(db, org, [campaign])
        transient = WriteError(code="INTEGRATION_ERROR", message="Meta: meta HTTP 500 (#2): try later")
        await record_failed_attempt(db, write, transient, now=NOW)
        assert await run_meta(db, run) == {"state": "pending", "at": "2027-01-15T12:00:00Z",
                                           "error": {"code": "INTEGRATION_ERROR", "message": transient.message}}
        (write,) = await pending_writes(db, org, [campaign])
        assert (write.attempts, write.error) == (1, transient)

        refusal = WriteError(code="INTEGRATION_ERROR", message="Meta: Budget Is Too Low")
        await mark_refused(db, write, refusal, now=NOW)
        await mark_refused(db, write, refusal, now=NOW)  # no longer pending: nothing more
        assert await pending_writes(db, org, [campaign]) == []
        error = {"code": "INTEGRATION_ERROR", "message": "Meta: Budget Is Too Low"}
        assert await run_meta(db, run) == {"state": "refused", "at": "2027-01-15T12:00:00Z", "error": error}
        assert await events(db, org, ACTION_FAILED) == [{
            "ruleId": str(rule), "campaignId": str(campaign), "campaignName": "Summer", "runId": str(run),
            "field": "budget", "value": value, "error": error}]
        assert await events(db, org, SYNC_FAILED) == [{
            "campaignId": str(campaign), "campaignName": "Summer", "action": "set_budget", "error": error}]
        shown = await get_campaign(db, org, campaign)
        assert shown is not None and shown.meta_sync is not None and shown.meta_sync.error is not None
        assert (shown.meta_sync.error.action, shown.meta_sync.error.message) == ("set_budget", error["message"])


async def test_a_members_refusal_is_no_rule_event_and_a_success_is_kept(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign = await linked_campaign(db, org)
        cause = PauseCause(user_id=uuid.uuid4())
        await enqueue_write(db, org, campaign, field="status", value=PAUSED, cause=cause, run_id=None, now=NOW)
        (write,) = await pending_writes(db, org, [campaign])
        await mark_refused(db, write, WriteError(code="CONFLICT", message="no"), now=NOW)
        assert await events(db, org, ACTION_FAILED) == []
        assert [e["action"] for e in await events(db, org, SYNC_FAILED)] == ["set_status"]

        value = {"budget": "80.00", "currency": "USD"}
        await enqueue_write(db, org, campaign, field="budget", value=value, cause=cause, run_id=None, now=NOW)
        (write,) = await pending_writes(db, org, [campaign])
        await mark_applied(db, write, now=NOW, budget_minor=8000, currency="USD")
        shown = await get_campaign(db, org, campaign)
        assert shown is not None and shown.meta_sync is not None
        assert (shown.meta_sync.budget_minor, shown.meta_sync.error) == (8000, None)
        assert await db.fetchval("SELECT state FROM meta_writes WHERE id = $1", write.id) == "applied"


async def test_the_pending_writes_of_unlinked_campaigns(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        linked, unlinked = await linked_campaign(db, org), await factories.create_campaign(db, org, name="Loose")
        cause = PauseCause(user_id=uuid.uuid4())
        for campaign in (unlinked, linked):
            await enqueue_write(db, org, campaign, field="status", value=PAUSED, cause=cause, run_id=None, now=NOW)
        assert [w.campaign_id for w in await pending_unlinked(db, org)] == [unlinked]
        assert await pending_unlinked(db, await factories.create_org(db, "other")) == []


async def test_two_actions_at_once_on_one_campaign_leave_one_pending_write(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign = await linked_campaign(db, org)
        cause = PauseCause(user_id=uuid.uuid4())
        ids: list[int] = []

        async def second() -> None:  # waits for the first transaction's lock on the campaign
            ids.append(await enqueue_write(db, org, campaign, field="status", value=ACTIVE, cause=cause, run_id=None,
                                           now=NOW))

        async with trio.open_nursery() as nursery, db.transaction() as tx:  # the nursery outlives the commit
            ids.append(await enqueue_write(tx, org, campaign, field="status", value=PAUSED, cause=cause,
                                           run_id=None, now=NOW))
            nursery.start_soon(second)
            await trio.sleep(0.2)
            assert len(ids) == 1
        rows = await db.fetch("SELECT id, state FROM meta_writes ORDER BY id")
        assert [(row["id"], row["state"]) for row in rows] == [(ids[0], "superseded"), (ids[1], "pending")]
