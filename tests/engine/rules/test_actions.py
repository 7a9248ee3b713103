"""``engine.rules.actions.plan``: what each action does to a campaign (``applied``, ``unchanged`` or
``refused``, with the values before and after): pauses and resumes, and budget steps within their limit,
floor and cap, in the currency's minor unit.

Rules: pure, no I/O; actions are built through ``parse_spec``, as a user writes them; the default step is
``[rules] max_budget_step``'s default, 20 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.rules.actions import CampaignState, PausedBy, Plan, plan
from engine.rules.model import Action, parse_spec

ACTIVE = CampaignState(status="active", budget=Decimal(100), currency="USD")


def _action(kind: str, **config: Any) -> Action:
    return parse_spec({"condition": {"field": "spend", "operator": "gte", "value": 0},
                       "action": {"type": kind, "config": config}}).action


def _plan(action: Action, state: CampaignState = ACTIVE, *, holds: bool = False) -> Plan:
    return plan(action, state, max_step_percent=20, guardrail_holds=holds)


def _paused(by: PausedBy | None) -> CampaignState:
    return CampaignState(status="paused", budget=Decimal(100), currency="USD", paused_by=by)


def _budget(budget: str, currency: str = "USD", **config: Any) -> Plan:
    state = CampaignState(status="active", budget=Decimal(budget), currency=currency)
    return _plan(_action("adjust_budget", **config), state)


def test_a_pause_pauses_an_active_campaign_and_leaves_others_alone() -> None:
    assert _plan(_action("pause_campaign")) == Plan(outcome="applied", status="paused", before={"status": "active"},
                                                    after={"status": "paused"})
    for status in ("paused", "draft", "completed"):
        paused = _plan(_action("pause_campaign"), CampaignState(status=status, budget=Decimal(1), currency="USD"))
        assert (paused.outcome, paused.status) == ("unchanged", None)


@pytest.mark.parametrize("by", ["rule", "guardrail"])
def test_a_resume_undoes_a_machines_pause(by: PausedBy) -> None:
    assert _plan(_action("resume_campaign"), _paused(by)) == Plan(
        outcome="applied", status="active", before={"status": "paused"}, after={"status": "active"})


@pytest.mark.parametrize(("by", "holds", "why"), [("member", False, "member"), (None, False, "member"),
                                                  ("guardrail", True, "guardrail"), ("rule", True, "guardrail")])
def test_a_resume_is_refused_after_a_members_pause_or_while_the_guardrail_holds(
        by: PausedBy | None, holds: bool, why: str) -> None:
    refused = _plan(_action("resume_campaign"), _paused(by), holds=holds)
    assert (refused.outcome, refused.status) == ("refused", None)
    assert refused.detail is not None and why in refused.detail


def test_a_resume_leaves_an_active_campaign_alone() -> None:
    assert _plan(_action("resume_campaign")).outcome == "unchanged"


@pytest.mark.parametrize(("kind", "value", "after"), [("percent", -10, "90.00"), ("percent", 15, "115.00"),
                                                      ("amount", -5, "95.00"), ("amount", "7.5", "107.50")])
def test_a_budget_moves_by_a_percent_or_an_amount(kind: str, value: object, after: str) -> None:
    assert _budget("100", adjustmentType=kind, value=value) == Plan(
        outcome="applied", budget=Decimal(after), before={"budget": "100"}, after={"budget": after})


@pytest.mark.parametrize(("config", "after"), [
    ({"adjustmentType": "percent", "value": -50}, 80),
    ({"adjustmentType": "amount", "value": 60}, 120),
    ({"adjustmentType": "percent", "value": -50, "maxStepPercent": 10}, 90),
    ({"adjustmentType": "percent", "value": 50, "maxStepPercent": 35}, 135),
    ({"adjustmentType": "amount", "value": -500, "maxStepPercent": 60}, 40),
])
def test_a_step_moves_at_most_its_limit(config: dict[str, Any], after: int) -> None:
    assert _budget("100", **config).budget == Decimal(after)


@pytest.mark.parametrize(("config", "outcome", "after"), [
    ({"value": -20, "floor": 90}, "applied", 90),
    ({"value": -20, "floor": 150}, "unchanged", None),  # a floor above the budget never raises it on a cut
    ({"value": 20, "floor": 500}, "applied", 120),  # a floor does not hold a raise back
    ({"value": 20, "cap": 110}, "applied", 110),
    ({"value": 20, "cap": 50}, "unchanged", None),  # a cap below the budget never lowers it on a raise
    ({"value": -20, "cap": 50}, "applied", 80),  # a cap does not hold a cut back
])
def test_a_floor_stops_a_cut_and_a_cap_stops_a_raise(config: dict[str, Any], outcome: str, after: int | None) -> None:
    planned = _budget("100", adjustmentType="percent", **config)
    assert (planned.outcome, planned.budget) == (outcome, None if after is None else Decimal(after))


def test_a_budget_at_its_floor_is_unchanged() -> None:
    planned = _budget("90", adjustmentType="percent", value=-20, floor=90)
    assert (planned.outcome, planned.budget, planned.after) == ("unchanged", None, {})


@pytest.mark.parametrize(("budget", "currency", "value", "after"), [
    ("1001", "JPY", -15, "851"),  # 850.85: a yen has no cents
    ("1001", "JPY", 15, "1151"),  # 1151.15
    ("10.03", "USD", 20, "12.03"),  # 12.036: rounding up would step past the 20 % limit
    ("100", "USD", "-3.3333", "96.67"),  # 96.6667: rounding down would cut more than 3.3333 %
    ("50", "JPY", 1, None),  # 0.5 yen: less than a yen, so nothing to do
])
def test_a_budget_is_rounded_to_the_currencys_minor_unit_toward_where_it_was(
        budget: str, currency: str, value: object, after: str | None) -> None:
    planned = _budget(budget, currency, adjustmentType="percent", value=value)
    assert planned.budget == (None if after is None else Decimal(after))
    assert planned.outcome == ("unchanged" if after is None else "applied")


def test_a_floor_finer_than_a_cent_is_still_respected() -> None:
    assert _budget("12", adjustmentType="percent", value=-20, floor="10.004").budget == Decimal("10.01")
    assert _budget("10", adjustmentType="percent", value=20, cap="11.996").budget == Decimal("11.99")


@pytest.mark.parametrize("kind", ["send_alert", "webhook"])
def test_an_alert_or_a_webhook_is_applied_and_changes_nothing(kind: str) -> None:
    assert _plan(_action(kind)) == Plan(outcome="applied")
    assert _plan(_action(kind), _paused("member")) == Plan(outcome="applied")
