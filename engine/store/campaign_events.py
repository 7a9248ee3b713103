"""The campaign events of the webhook outbox: what ``campaign.created``, ``campaign.updated``,
``campaign.launched``, ``campaign.paused`` and ``campaign.resumed`` (with their ``cause``: a member, a rule or
the budget guardrail), ``campaign.budget_changed`` (with its cause) and a member's ``campaign.completed``
carry. The campaign store
enqueues them in the transaction of the change; nothing else does.

A campaign that reaches its end date is completed by the aggregator, whose ``campaign.completed`` is the
alert of ``engine.alert_rules`` (``campaign_status.completed_data`` gives both the same ``data``). Archiving has
no type of its own: it is a ``campaign.updated`` whose ``changes`` hold the status.
"""

from __future__ import annotations

import uuid

import msgspec

from engine.campaign_status import completed_data
from engine.guardrail import PauseCause
from engine.store.campaign_model import Campaign
from engine.store.catalog_common import Executor
from engine.store.outbox import enqueue_event

__all__ = ["announce_budget_changed", "announce_created", "announce_moved", "announce_updated"]

# What ``campaign.updated`` reports when it changes (the API's names); totals, timestamps and the Meta link
# change without a member editing the campaign, and a status change has an event of its own.
_EDITABLE = ("name", "description", "objective", "trackId", "budget", "currency", "startDate", "endDate",
             "targetAudience", "creativeAssets", "goals", "budgetGuardrail")
_MOVED = {"active": "campaign.launched", "paused": "campaign.paused", "completed": "campaign.completed"}


def _base(campaign: Campaign) -> dict[str, object]:
    return {"campaignId": campaign.id, "campaignName": campaign.name}


async def announce_created(q: Executor, org_id: uuid.UUID, campaign: Campaign) -> None:
    data = {**_base(campaign), "status": campaign.status, "trackId": campaign.track_id, "budget": campaign.budget,
            "currency": campaign.currency, "startDate": campaign.start_date, "endDate": campaign.end_date}
    await enqueue_event(q, org_id, "campaign.created", data)


async def announce_updated(q: Executor, org_id: uuid.UUID, before: Campaign, after: Campaign) -> None:
    """``campaign.updated`` with ``changes``: each edited field that differs, with its new value (nothing
    is sent when none differs)."""
    old, new = msgspec.to_builtins(before), msgspec.to_builtins(after)
    changes = {field: new[field] for field in _EDITABLE if old.get(field) != new.get(field)}
    if changes:
        await enqueue_event(q, org_id, "campaign.updated", {**_base(after), "changes": changes})


async def announce_budget_changed(q: Executor, org_id: uuid.UUID, before: Campaign, after: Campaign,
                                  cause: PauseCause | None) -> None:
    """``campaign.budget_changed`` when the budget differs: the new and previous budget and who changed it."""
    if before.budget == after.budget:
        return
    data = {**_base(after), "budget": after.budget, "previousBudget": before.budget, "currency": after.currency,
            "cause": None if cause is None else msgspec.to_builtins(cause)}
    await enqueue_event(q, org_id, "campaign.budget_changed", data)


async def announce_moved(q: Executor, org_id: uuid.UUID, previous: str, campaign: Campaign,
                         cause: PauseCause | None = None) -> None:
    """The event of a status change from ``previous`` (launched, paused, resumed, completed; archived is an
    update). A resume is a move from paused to active; ``cause`` says who resumed it."""
    kind = _MOVED.get(campaign.status)
    if kind == "campaign.launched" and previous == "paused":
        kind = "campaign.resumed"
    if kind == "campaign.completed":
        metrics = msgspec.to_builtins(campaign.metrics)
        data = completed_data(campaign.id, campaign.name, end_date=campaign.end_date,
                              budget_spent=campaign.budget_spent, currency=campaign.currency, metrics=metrics)
    elif kind is not None:
        data = {**_base(campaign), "status": campaign.status, "previousStatus": previous}
        if kind == "campaign.paused":  # who paused it: a member, a rule or the guardrail (null: not recorded)
            reason = campaign.paused_reason
            data["cause"] = None if reason is None else msgspec.to_builtins(reason.cause)
        elif kind == "campaign.resumed":
            data["cause"] = None if cause is None else msgspec.to_builtins(cause)
    else:
        kind, data = "campaign.updated", {**_base(campaign), "changes": {"status": campaign.status}}
    await enqueue_event(q, org_id, kind, data)
