"""The alert rules, pure: from one campaign's totals, budget, dates and goals at ``now``, which alerts fire.

No I/O and no clock: the aggregator passes ``now`` and stores what fires. "Once" is a dedupe key per alert
(``budget.warning:<campaign>:<fraction>``); the store makes it a unique constraint, and ``evaluate`` also
leaves out the keys its caller says already fired.

The rules:
- ``budget.warning``: spend reached a configured fraction of the budget (once per campaign and fraction);
- ``budget.pacing``: spend so far, extended linearly to the end date, exceeds the budget by more than the
  tolerance (once per campaign and UTC day); see ``projected_spend`` for the model;
- ``goal.reached``: a streams, clicks or impressions total reached its target (once per goal and target);
- ``campaign.completed``: the end date of a running (active or paused) campaign has passed (once); a draft
  was never launched, so it does not complete;
- ``metrics.updated``: the totals changed (at most once per campaign per ``metrics_updated_every`` bucket).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Set
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from config.sections import AlertsSettings
from engine.campaign_status import completed_data

__all__ = ["COMPLETABLE", "AlertType", "CampaignState", "Firing", "evaluate", "projected_spend"]

AlertType = Literal["budget.warning", "budget.pacing", "goal.reached", "campaign.completed", "metrics.updated"]

GOAL_METRICS = ("streams", "clicks", "impressions")
_DAY = timedelta(days=1)
COMPLETABLE = ("active", "paused")  # the statuses a campaign completes from at its end date


class CampaignState(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules see of a campaign. Money is in major units of ``currency``; ``totals`` holds the
    streams/clicks/impressions totals, ``goals`` the targets by metric; ``changed`` says whether the
    totals just changed (only then does ``metrics.updated`` fire); ``status`` is the campaign's lifecycle status."""

    campaign_id: uuid.UUID
    name: str
    currency: str
    budget: Decimal
    budget_spent: Decimal
    start_date: datetime
    end_date: datetime
    totals: Mapping[str, int] = {}
    goals: Mapping[str, int] = {}
    changed: bool = True
    status: str = "active"


class Firing(msgspec.Struct, frozen=True, kw_only=True):
    """One alert that fires: its type, dedupe key, a one-line title for people, and the event's data."""

    type: AlertType
    dedupe_key: str
    campaign_id: uuid.UUID
    title: str
    data: dict[str, object]


def evaluate(state: CampaignState, now: datetime, config: AlertsSettings,
             fired: Set[str] = frozenset()) -> list[Firing]:
    """Every alert whose condition holds at ``now`` and whose dedupe key is not in ``fired``. Each rule
    checks its key before it builds the alert: the aggregator passes the keys it knows fired, and in most
    batches that is every alert whose condition holds."""
    return [
        *_budget_warnings(state, config, fired), *_pacing(state, now, config, fired), *_goals(state, fired),
        *_completed(state, now, fired), *_metrics_updated(state, now, config, fired),
    ]  # fmt: skip


def projected_spend(state: CampaignState, now: datetime) -> Decimal | None:
    """Spend at the end date if it goes on at the average rate so far; ``None`` outside the campaign.

    The model: ``spent / elapsed * duration``, with ``elapsed`` at least one day. Facts are daily, so
    a fraction of a day would blow the first hours' projection up from one early figure.
    """
    if not state.start_date < now < state.end_date:
        return None
    elapsed = max(now - state.start_date, _DAY)
    duration = state.end_date - state.start_date
    if elapsed >= duration:
        return state.budget_spent
    ratio = Decimal(duration.total_seconds()) / Decimal(elapsed.total_seconds())
    return state.budget_spent * ratio


def _base(state: CampaignState) -> dict[str, object]:
    return {"campaignId": str(state.campaign_id), "campaignName": state.name}


def _money(value: Decimal) -> float:
    return round(float(value), 2)


def _budget_warnings(state: CampaignState, config: AlertsSettings, fired: Set[str]) -> list[Firing]:
    if state.budget <= 0:
        return []
    firings = []
    for fraction in config.fractions():
        key = f"budget.warning:{state.campaign_id}:{fraction!r}"
        if key not in fired and state.budget_spent >= state.budget * Decimal(repr(fraction)):
            percent = round(fraction * 100)
            firings.append(Firing(
                type="budget.warning", dedupe_key=key,
                campaign_id=state.campaign_id, title=f"{state.name} has spent {percent}% of its budget",
                data={**_base(state), "threshold": fraction, "budget": _money(state.budget),
                      "budgetSpent": _money(state.budget_spent), "currency": state.currency},
            ))  # fmt: skip
    return firings


def _pacing(state: CampaignState, now: datetime, config: AlertsSettings, fired: Set[str]) -> list[Firing]:
    day = now.date().isoformat()
    key = f"budget.pacing:{state.campaign_id}:{day}"
    if key in fired:
        return []
    projected = projected_spend(state, now)
    limit = state.budget * (1 + Decimal(repr(config.pacing_tolerance)))
    if projected is None or state.budget <= 0 or projected <= limit:
        return []
    return [Firing(
        type="budget.pacing", dedupe_key=key, campaign_id=state.campaign_id,
        title=f"{state.name} is on course to overspend its budget",
        data={**_base(state), "budget": _money(state.budget), "budgetSpent": _money(state.budget_spent),
              "projectedSpend": _money(projected), "currency": state.currency, "day": day},
    )]  # fmt: skip


def _goals(state: CampaignState, fired: Set[str]) -> list[Firing]:
    firings = []
    for metric in GOAL_METRICS:
        target = state.goals.get(metric)
        value = state.totals.get(metric, 0)
        key = f"goal.reached:{state.campaign_id}:{metric}:{target}"
        if target is not None and target > 0 and value >= target and key not in fired:
            firings.append(Firing(
                type="goal.reached", dedupe_key=key,
                campaign_id=state.campaign_id, title=f"{state.name} reached its {metric} goal",
                data={**_base(state), "metric": metric, "target": target, "value": value},
            ))  # fmt: skip
    return firings


def _completed(state: CampaignState, now: datetime, fired: Set[str]) -> list[Firing]:
    key = f"campaign.completed:{state.campaign_id}"
    if now < state.end_date or state.status not in COMPLETABLE or key in fired:
        return []
    return [Firing(
        type="campaign.completed", dedupe_key=key,
        campaign_id=state.campaign_id, title=f"{state.name} has ended",
        data=completed_data(state.campaign_id, state.name, end_date=state.end_date, budget_spent=state.budget_spent,
                            currency=state.currency, metrics=state.totals),
    )]  # fmt: skip


def _metrics_updated(state: CampaignState, now: datetime, config: AlertsSettings, fired: Set[str]) -> list[Firing]:
    bucket = int(now.timestamp() // config.metrics_updated_every)
    key = f"metrics.updated:{state.campaign_id}:{bucket}"
    if not state.changed or key in fired:
        return []
    return [Firing(
        type="metrics.updated", dedupe_key=key,
        campaign_id=state.campaign_id, title=f"{state.name}: new figures",
        data={**_base(state), "budgetSpent": _money(state.budget_spent), "currency": state.currency,
              "metrics": dict(state.totals)},
    )]  # fmt: skip
