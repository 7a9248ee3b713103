"""``engine.rules.evaluate``: each operator on figures and texts, a figure compared with another, ``all``
and ``any`` with an untrusted condition, a rule's scope and its cooldown, on the history of
``histories.py`` at ``NOW`` (spend over 48 h: 50 USD; over the campaign so far: 60; budget 100).

Rules: pure, no I/O; rules are built from the API's JSON through ``parse_spec``, as a user writes them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from engine.rules.actions import CampaignState
from engine.rules.decide import Limits, preview
from engine.rules.evaluate import ConditionResult, applies, evaluate
from engine.rules.model import RuleSpec, parse_spec
from tests.engine.rules.histories import BASELINE, NOW, TRACK, history

HISTORY = history()


def _spec(*conditions: dict[str, Any], **rest: Any) -> RuleSpec:
    return parse_spec({"conditions": list(conditions), "action": {"type": "send_alert"}, **rest})


def _met(condition: dict[str, Any]) -> bool:
    evaluation = evaluate(_spec(condition), HISTORY, NOW, last_fired=None, baseline=BASELINE)
    assert evaluation.fires == evaluation.held == evaluation.conditions[0].met
    return evaluation.fires


@pytest.mark.parametrize(("operator", "value", "met"), [
    ("equals", "50", True), ("equals", 50.0, True), ("equals", "49.99", False),
    ("not_equals", "49.99", True), ("not_equals", "50", False),
    ("greater_than", "49.99", True), ("greater_than", "50", False),
    ("less_than", "50.01", True), ("less_than", "50", False),
    ("gte", "50", True), ("gte", "50.01", False),
    ("lte", "50", True), ("lte", "49.99", False),
    ("in", ["10", "50.00"], True), ("in", ["10", "60"], False),
])
def test_each_operator_on_a_figure(operator: str, value: object, met: bool) -> None:
    assert _met({"field": "spend", "operator": operator, "value": value, "durationHours": 48}) is met


@pytest.mark.parametrize(("field", "operator", "value", "met"), [
    ("status", "equals", "Active", True), ("status", "equals", "paused", False),
    ("status", "not_equals", "paused", True), ("status", "not_equals", "ACTIVE", False),
    ("status", "in", ["paused", "active"], True), ("status", "in", ["paused", "draft"], False),
    ("name", "contains", "spring", True), ("name", "contains", "autumn", False),
    ("name", "equals", "spring single", True),
])
def test_each_operator_on_a_text_ignores_case(field: str, operator: str, value: object, met: bool) -> None:
    assert _met({"field": field, "operator": operator, "value": value}) is met


@pytest.mark.parametrize(("budget", "multiplier", "met"), [(100, 2, False), (30, 2, True), (25, 2, True),
                                                           (121, "0.5", False), (120, "0.5", True)])
def test_a_figure_against_another_times_a_multiplier(budget: int, multiplier: object, met: bool) -> None:
    spec = _spec({"field": "spend", "operator": "gte", "value": {"field": "budget", "multiplier": multiplier}})
    evaluation = evaluate(spec, history(budget=budget), NOW, last_fired=None, baseline=BASELINE)
    assert evaluation.fires is met
    assert evaluation.conditions[0].actual == "60.00"  # money to the cent
    assert evaluation.conditions[0].expected is not None
    assert float(evaluation.conditions[0].expected) == budget * float(str(multiplier))


def test_a_comparison_with_an_untrusted_figure_does_not_hold() -> None:
    spec = _spec({"field": "spend", "operator": "gte", "value": {"field": "spend", "durationHours": 96}})
    result = evaluate(spec, HISTORY, NOW, last_fired=None, baseline=BASELINE).conditions[0]
    assert not result.met and result.untrusted is not None and "not full" in result.untrusted


@pytest.mark.parametrize(("match", "fires"), [("all", False), ("any", True)])
def test_an_untrusted_condition_never_holds_and_blocks_only_all(match: str, fires: bool) -> None:
    trusted = {"field": "spend", "operator": "gte", "value": "10"}
    partial = {"field": "impressions", "operator": "gte", "value": "0", "durationHours": 96}
    evaluation = evaluate(_spec(trusted, partial, match=match), HISTORY, NOW, last_fired=None, baseline=BASELINE)
    assert evaluation.fires is fires
    assert [c.met for c in evaluation.conditions] == [True, False]
    assert evaluation.conditions[1] == ConditionResult(
        field="impressions", operator="gte", duration_hours=96, actual="10000", expected="0", met=False,
        untrusted="the window of 96 h reaches back before the campaign started: it is not full yet")


def test_a_rule_applies_to_its_campaigns_its_tracks_or_all() -> None:
    other = str(uuid.uuid4())
    cases = [({"campaigns": None, "tracks": None}, True), ({"campaigns": [str(HISTORY.campaign_id)]}, True),
             ({"campaigns": [other]}, False), ({"tracks": [str(TRACK)]}, True), ({"tracks": [other]}, False),
             ({"campaigns": [other], "tracks": [str(TRACK)]}, True), ({"campaigns": []}, False)]
    for scope, expected in cases:
        assert applies(_spec({"field": "spend", "operator": "gte", "value": 0}, appliesTo=scope), HISTORY) is expected
    assert not applies(_spec({"field": "spend", "operator": "gte", "value": 0}, appliesTo={"tracks": [str(TRACK)]}),
                       history(track_id=None))


@pytest.mark.parametrize(("since", "cooling"), [(timedelta(hours=1), True), (timedelta(hours=23, minutes=59), True),
                                                (timedelta(hours=24), False), (timedelta(days=3), False)])
def test_the_cooldown_holds_a_firing_back_for_cooldown_hours(since: timedelta, cooling: bool) -> None:
    spec = _spec({"field": "spend", "operator": "gte", "value": 0}, cooldownHours=24)
    evaluation = evaluate(spec, HISTORY, NOW, last_fired=NOW - since, baseline=BASELINE)
    assert (evaluation.held, evaluation.cooling, evaluation.fires) == (True, cooling, not cooling)


def test_a_rule_that_keeps_holding_fires_once_per_cooldown() -> None:
    spec = _spec({"field": "spend", "operator": "gte", "value": 0}, cooldownHours=24)
    state = CampaignState(status="active", budget=HISTORY.budget, currency="USD")
    hours = [NOW + timedelta(hours=h) for h in range(72)]
    fired = preview(spec, HISTORY, state, hours, limits=Limits(baseline=BASELINE))
    assert [f.at for f in fired] == [NOW, NOW + timedelta(hours=24), NOW + timedelta(hours=48)]
    assert [f.outcome for f in fired] == ["applied"] * 3


def test_a_cooldown_of_0_fires_at_every_evaluation() -> None:
    spec = _spec({"field": "spend", "operator": "gte", "value": 0}, cooldownHours=0)
    assert evaluate(spec, HISTORY, NOW, last_fired=NOW, baseline=BASELINE).fires
