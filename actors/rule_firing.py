"""One rule firing on one campaign, applied in the evaluator's transaction (``fire``): the campaign's new
status or budget (with the rule as its cause), the write its linked Meta campaign needs (queued for the
Meta account actor, ``engine.store.meta_writes``), the history row, the notification of a ``send_alert``,
the ``rule.triggered`` event, and the rule's cooldown on the campaign.

A dry-run rule records its firing in the history (outcome ``dry_run``) and acts on nothing. A campaign
that changed between the evaluation's read and this lock (a member paused it, the aggregator's guardrail
did) is left alone: the rule sees the change at its next evaluation.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from engine.audit import Actor, AuditContext
from engine.guardrail import PauseCause, PausedReason
from engine.rules.actions import CampaignState
from engine.rules.decide import Decision, after
from engine.rules.figures import CampaignHistory
from engine.rules.model import Rule
from engine.store import alerts, audit_log, campaigns, meta_writes, rule_runs
from engine.store import rules as rule_store
from engine.store.database import Connection
from engine.store.meta_writes import WriteField
from engine.store.outbox import enqueue_event
from engine.store.rule_inputs import lock_campaign

__all__ = ["fire"]

_META_STATUS = {"paused": "PAUSED", "active": "ACTIVE"}


async def fire(tx: Connection, rule: Rule, history: CampaignHistory, state: CampaignState, decision: Decision,
               now: datetime) -> CampaignState:
    """Apply ``decision`` (which fires) of ``rule`` on the campaign; returns the campaign's state after it,
    which the next rule in order sees."""
    planned = decision.plan
    assert planned is not None, "fire takes a decision that fires"
    org_id, campaign_id = history.organization_id, history.campaign_id
    locked = await lock_campaign(tx, org_id, campaign_id)
    if locked is None or (locked.status, locked.budget) != (state.status, state.budget):
        return state
    cause = PauseCause(rule_id=rule.id)
    outcome = "dry_run" if rule.dry_run else planned.outcome
    write: tuple[WriteField, dict[str, str]] | None = None
    acting = AuditContext(actor=Actor(type="rule", rule_id=rule.id, label=rule.name), source="rule",
                          organization_id=org_id)
    if outcome == "applied" and planned.status is not None:
        async with audit_log.acting_in(tx, acting):
            await campaigns.set_campaign_status(tx, org_id, campaign_id, expected_from=(state.status,),
                                                to=planned.status, reason=PausedReason(cause=cause, at=now))
        write = ("status", {"status": _META_STATUS[planned.status]})
    elif outcome == "applied" and planned.budget is not None:
        async with audit_log.acting_in(tx, acting):
            await campaigns.update_campaign(tx, org_id, campaign_id, {"budget": planned.budget}, cause=cause)
        write = ("budget", {"budget": str(planned.budget), "currency": state.currency})
    queued = write is not None and locked.linked
    action = msgspec.to_builtins(rule.spec.action)
    conditions = msgspec.to_builtins(decision.evaluation.conditions)
    run_id = await rule_runs.insert_run(
        tx, org_id, rule_id=rule.id, rule_name=rule.name, campaign_id=campaign_id, manual=False, user_id=None,
        dry_run=rule.dry_run, at=now, inputs={"match": rule.spec.match, "conditions": conditions}, action=action,
        outcome=outcome, detail=planned.detail, before=planned.before, after=planned.after,
        meta={"state": "pending"} if queued else None)  # fmt: skip
    if queued and write is not None:
        await meta_writes.enqueue_write(tx, org_id, campaign_id, field=write[0], value=write[1],
                                        cause=cause, run_id=run_id, now=now)
    await rule_store.set_fired(tx, rule.id, campaign_id, now)
    await rule_store.mark_triggered(tx, rule.id, now)
    if rule.dry_run:
        return state
    data = {"ruleId": rule.id, "ruleName": rule.name, "campaignId": campaign_id, "campaignName": locked.name,
            "runId": run_id, "action": action, "outcome": outcome, "detail": planned.detail,
            "conditions": conditions, "before": planned.before, "after": planned.after, "firedAt": now}
    if rule.spec.action.type == "send_alert":
        message = rule.spec.action.config.get("message") or f"Rule “{rule.name}” fired on “{locked.name}”"
        await alerts.insert_notification(tx, org_id, type="rule.triggered", title=message, data=data, created_at=now)
    await enqueue_event(tx, org_id, "rule.triggered", data, now=now)
    return after(state, planned)
