"""What a firing rule's action does to a campaign, pure: ``plan`` says the change (a status, a budget or
none), the values before and after, and whether it is ``applied``, ``unchanged`` (nothing to do: the rule
does not fire then) or ``refused`` (and why). The evaluator applies the plan; the preview only reports it.

Budget steps (``adjust_budget``): ``value`` percent of the budget, or an ``amount`` in its currency; each
step at most ``maxStepPercent`` of the budget (default ``[rules] max_budget_step``, 20 %: budget changes
beyond that restart Meta's learning phase, by the community's guidance), then kept within ``floor`` and
``cap``, rounded to the currency's minor unit toward the budget.

A resume undoes only a machine's pause: a campaign a member paused stays paused until a member resumes
it, and one the budget guardrail holds (its spend still at the guardrail) stays paused too.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

import msgspec

from engine.guardrail import Guardrail
from engine.money import currency_places
from engine.rules.model import Action

__all__ = ["CampaignState", "Outcome", "PausedBy", "Plan", "plan"]

Outcome = Literal["applied", "unchanged", "refused"]
PausedBy = Literal["member", "rule", "guardrail"]


class CampaignState(msgspec.Struct, frozen=True, kw_only=True):
    """What an action needs of a campaign: ``paused_by`` while paused (who paused it); its guardrail."""

    status: str
    budget: Decimal
    currency: str
    paused_by: PausedBy | None = None
    guardrail: Guardrail = Guardrail()


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """The action's effect: ``status`` or ``budget`` set when it changes one (``after``), with ``before``."""

    outcome: Outcome
    detail: str | None = None
    status: str | None = None
    budget: Decimal | None = None
    before: dict[str, str] = {}
    after: dict[str, str] = {}


def plan(action: Action, state: CampaignState, *, max_step_percent: int, guardrail_holds: bool) -> Plan:
    """The action on a campaign in ``state``; ``guardrail_holds`` when its guardrail would pause it again."""
    if action.type == "pause_campaign":
        if state.status != "active":
            return Plan(outcome="unchanged", detail=f"the campaign is {state.status}, not active")
        return Plan(outcome="applied", status="paused", before={"status": "active"}, after={"status": "paused"})
    if action.type == "resume_campaign":
        return _resume(state, guardrail_holds)
    if action.type == "adjust_budget":
        return _budget(action, state, max_step_percent)
    return Plan(outcome="applied")  # send_alert, webhook: the firing's notification or event is the action


def _resume(state: CampaignState, guardrail_holds: bool) -> Plan:
    if state.status != "paused":
        return Plan(outcome="unchanged", detail=f"the campaign is {state.status}, not paused")
    if state.paused_by == "member" or state.paused_by is None:
        return Plan(outcome="refused", detail="a member paused the campaign: only a member resumes it")
    if guardrail_holds:
        return Plan(outcome="refused", detail="the campaign's spend is at its budget guardrail: raise its budget"
                                               " or its guardrail first")
    return Plan(outcome="applied", status="active", before={"status": "paused"}, after={"status": "active"})


def _budget(action: Action, state: CampaignState, default_step: int) -> Plan:
    config = action.config
    budget, value = state.budget, Decimal(config["value"])
    step = budget * value / 100 if config["adjustmentType"] == "percent" else value
    limit = budget * Decimal(config.get("maxStepPercent", default_step)) / 100
    step = max(-limit, min(limit, step))
    target = budget + step
    # A floor stops a cut and a cap stops a raise; neither moves a budget the other way.
    if "floor" in config and step < 0:
        target = max(target, min(budget, Decimal(config["floor"])))
    if "cap" in config and step > 0:
        target = min(target, max(budget, Decimal(config["cap"])))
    # Rounded toward the budget, so the step stays within its limit and the target within its floor or cap.
    unit = Decimal(1).scaleb(-currency_places(state.currency))
    if step < 0:
        target = min(budget, target.quantize(unit, rounding=ROUND_CEILING))
    else:
        target = max(budget, target.quantize(unit, rounding=ROUND_FLOOR))
    if target <= 0:
        return Plan(outcome="refused", detail="the step would take the budget to 0 or below")
    if target == budget:
        return Plan(outcome="unchanged", detail="the budget is at the rule's floor or cap already, or the step is"
                                                 " less than the currency's smallest unit")
    return Plan(outcome="applied", budget=target, before={"budget": str(budget)}, after={"budget": str(target)})
