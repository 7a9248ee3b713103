"""One rule on one campaign at one instant, pure: evaluate it, and when it fires, plan its action
(``decide``); and the same over past instants without acting (``preview``). The live evaluator calls
``decide`` with the stored cooldown and applies the plan; ``preview`` carries the rule's own cooldown and
its own simulated actions from one instant to the next, so both say the same on the same data.

A firing whose action would change nothing (a pause of a campaign already paused; a budget at its floor)
is not a firing: it writes no history and starts no cooldown. A refused action is one: it is recorded,
and the cooldown keeps it from being tried again at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import msgspec

from engine.analytics.attribution import BaselineRule
from engine.guardrail import tripped
from engine.rules.actions import CampaignState, Plan, plan
from engine.rules.evaluate import Evaluation, applies, evaluate
from engine.rules.figures import CampaignHistory, figure
from engine.rules.model import RuleSpec

__all__ = ["Decision", "Limits", "PreviewFiring", "after", "decide", "preview"]


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """The settings a decision depends on: ``[rules]`` max_budget_step and guardrail_percent, and the
    attribution baseline of ``[analytics]``."""

    baseline: BaselineRule
    max_budget_step: int = 20
    guardrail_percent: int = 100


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The evaluation, and the plan when the rule fires (``None``: it does not)."""

    evaluation: Evaluation
    plan: Plan | None


class PreviewFiring(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One instant a rule would have fired on a campaign, what it saw and what it would have done."""

    at: datetime
    campaign_id: str
    conditions: list[dict[str, object]]
    outcome: str
    detail: str | None
    before: dict[str, str]
    after: dict[str, str]


def decide(spec: RuleSpec, history: CampaignHistory, state: CampaignState, now: datetime, *,
           last_fired: datetime | None, limits: Limits) -> Decision:
    """The rule on the campaign as ``state`` has it now (its status and budget override the history's)."""
    current = msgspec.structs.replace(history, status=state.status, budget=state.budget)
    evaluation = evaluate(spec, current, now, last_fired=last_fired, baseline=limits.baseline)
    if not evaluation.fires:
        return Decision(evaluation=evaluation, plan=None)
    spent = figure(current, "budgetSpent", None, now, limits.baseline).value
    holds = tripped(state.guardrail, limits.guardrail_percent, budget=state.budget,
                    budget_spent=spent if isinstance(spent, Decimal) else Decimal(0),
                    currency=state.currency) is not None
    planned = plan(spec.action, state, max_step_percent=limits.max_budget_step, guardrail_holds=holds)
    if planned.outcome == "unchanged":
        return Decision(evaluation=evaluation, plan=None)
    return Decision(evaluation=evaluation, plan=planned)


def after(state: CampaignState, planned: Plan) -> CampaignState:
    """The campaign's state once ``planned`` is applied."""
    if planned.outcome != "applied":
        return state
    if planned.status is not None:
        return msgspec.structs.replace(state, status=planned.status,
                                       paused_by="rule" if planned.status == "paused" else None)
    if planned.budget is not None:
        return msgspec.structs.replace(state, budget=planned.budget)
    return state


def preview(spec: RuleSpec, history: CampaignHistory, state: CampaignState, instants: Iterable[datetime], *,
            limits: Limits) -> list[PreviewFiring]:
    """When the rule would have fired on the campaign at ``instants`` (oldest first), starting from
    ``state``, and what it would have done; its own actions carry over (a pause holds until it resumes)."""
    if not applies(spec, history):
        return []
    fired: list[PreviewFiring] = []
    last: datetime | None = None
    for now in instants:
        decision = decide(spec, history, state, now, last_fired=last, limits=limits)
        if decision.plan is None:
            continue
        last = now
        fired.append(PreviewFiring(
            at=now, campaign_id=str(history.campaign_id),
            conditions=[msgspec.to_builtins(c) for c in decision.evaluation.conditions],
            outcome=decision.plan.outcome, detail=decision.plan.detail, before=decision.plan.before,
            after=decision.plan.after))  # fmt: skip
        state = after(state, decision.plan)
    return fired
