"""``engine.rules.model.parse_spec``: the API's JSON of a rule becomes a ``RuleSpec``, or a ``RuleSpecError``
whose ``field`` is the JSON path of the fault, as the API shows it to the user.

Rules: pure, no I/O; every fault is checked by the path it names, not only by its type; junk never crashes
the parser, and the extreme numbers it accepts never crash an evaluation.
"""

from __future__ import annotations

import copy
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.rules.actions import CampaignState, plan
from engine.rules.evaluate import evaluate
from engine.rules.model import (
    ACTION_TYPES,
    FIELDS,
    OPERATORS,
    TEXT_FIELDS,
    Action,
    AppliesTo,
    Comparison,
    Condition,
    RuleSpec,
    RuleSpecError,
    parse_spec,
)
from tests.engine.rules.histories import BASELINE, NOW, history

# The issue's example, verbatim.
EXAMPLE: dict[str, Any] = {
    "name": "...",
    "condition": {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "0.05",
                  "durationHours": 48},
    "action": {"type": "pause_campaign", "config": {}},
    "appliesTo": {"campaigns": None},
    "cooldownHours": 24,
}


def _with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(EXAMPLE)
    raw.update(changes)
    return raw


def _cond(**changes: Any) -> dict[str, Any]:
    return _with(condition={**EXAMPLE["condition"], **changes})


def _many(conditions: list[Any], **changes: Any) -> dict[str, Any]:
    raw = _with(conditions=conditions, **changes)
    del raw["condition"]
    return raw


def _budget(**config: Any) -> dict[str, Any]:
    return _with(action={"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": -20, **config}})


def test_the_issues_example_parses_verbatim() -> None:
    assert parse_spec(EXAMPLE) == RuleSpec(
        conditions=[Condition(field="costPerIncrementalStream", operator="greater_than", value="0.05",
                              duration_hours=48)],
        match="all", action=Action(type="pause_campaign", config={}), applies_to=AppliesTo(), cooldown_hours=24)


def test_a_spec_survives_storage_as_json() -> None:
    spec = parse_spec(_many([
        {"field": "spend", "operator": "gte", "value": {"field": "budget", "multiplier": 2}},
        {"field": "status", "operator": "in", "value": ["active", "paused"]},
    ], action={"type": "adjust_budget", "config": {"adjustmentType": "amount", "value": "-5", "floor": 10}}))
    assert msgspec.json.decode(msgspec.json.encode(spec), type=RuleSpec) == spec


def test_several_conditions_are_joined_with_any_or_all() -> None:
    raw = _many([{"field": "spend", "operator": "gte", "value": 100},
                 {"field": "ctr", "operator": "less_than", "value": "0.5", "durationHours": 24}], match="any")
    spec = parse_spec(raw)
    assert spec.match == "any"
    assert [(c.field, c.operator, c.value, c.duration_hours) for c in spec.conditions] == [
        ("spend", "gte", "100", None), ("ctr", "less_than", "0.5", 24)]
    del raw["match"]
    assert parse_spec(raw).match == "all"


def test_a_value_object_compares_with_another_figure_times_a_multiplier() -> None:
    spec = parse_spec(_cond(field="spend", operator="gte", durationHours=None,
                            value={"field": "budget", "multiplier": "2"}))
    assert spec.conditions[0].value == Comparison(field="budget", multiplier=Decimal(2))
    windowed = parse_spec(_cond(field="spend", value={"field": "spend", "durationHours": 168}))
    assert windowed.conditions[0].value == Comparison(field="spend", multiplier=Decimal(1), duration_hours=168)


def test_numbers_are_kept_as_decimal_texts_and_texts_as_given() -> None:
    assert parse_spec(_cond(value=0.05)).conditions[0].value == "0.05"
    assert parse_spec(_cond(operator="in", value=[1, "2.5"])).conditions[0].value == ["1", "2.5"]
    assert parse_spec(_cond(field="name", operator="contains", value="Spring")).conditions[0].value == "Spring"


def test_adjust_budget_keeps_its_config_normalised() -> None:
    spec = parse_spec(_budget(value=-20, floor=50, cap="500", maxStepPercent=10))
    assert spec.action == Action(type="adjust_budget", config={
        "adjustmentType": "percent", "value": "-20", "floor": "50", "cap": "500", "maxStepPercent": "10"})


def test_ids_scope_the_rule() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    spec = parse_spec(_with(appliesTo={"campaigns": None, "tracks": [str(i) for i in ids]}))
    assert spec.applies_to == AppliesTo(campaigns=None, tracks=ids)


@pytest.mark.parametrize(("raw", "path"), [
    (_cond(field="revenue"), "condition.field"),
    (_cond(field=None), "condition.field"),
    (_cond(operator="between"), "condition.operator"),
    (_cond(operator="contains"), "condition.value"),
    (_cond(field="status", operator="greater_than", value="active"), "condition.value"),
    (_cond(field="name", operator="lte", value="a"), "condition.value"),
    (_cond(field="status", value={"field": "spend"}), "condition.value"),
    (_cond(field="status", operator="equals", value=3), "condition.value"),
    (_cond(value={"field": "name"}), "condition.value.field"),
    (_cond(value={"field": "nope"}), "condition.value.field"),
    (_cond(value={"field": "spend", "multiplier": "x"}), "condition.value.multiplier"),
    (_cond(value={"field": "spend", "durationHours": 0}), "condition.value.durationHours"),
    (_cond(value={"field": "budget", "multiplyer": 2}), "condition.value.multiplyer"),
    (_cond(value={"field": "budget", "multiplier": 0}), "condition.value.multiplier"),
    (_cond(value={"field": "budget", "multiplier": "-2"}), "condition.value.multiplier"),
    (_cond(value={"field": "budget", "multiplier": "1e30"}), "condition.value.multiplier"),
    (_cond(value="abc"), "condition.value"),
    (_cond(value="NaN"), "condition.value"),
    (_cond(value=True), "condition.value"),
    (_cond(operator="in", value=[]), "condition.value"),
    (_cond(operator="in", value=["1", "x"]), "condition.value[1]"),
    (_cond(durationHours=0), "condition.durationHours"),
    (_cond(durationHours=-24), "condition.durationHours"),
    (_cond(durationHours=1.5), "condition.durationHours"),
    (_cond(durationHours="48"), "condition.durationHours"),
    (_cond(durationHours=True), "condition.durationHours"),
    (_cond(durationHours=24 * 367), "condition.durationHours"),
    (_cond(window=48), "condition.window"),
    (_with(condition="spend > 5"), "condition"),
    (_with(conditions=[EXAMPLE["condition"]]), "condition"),
    ({k: v for k, v in EXAMPLE.items() if k != "condition"}, "condition"),
    (_many([]), "conditions"),
    (_many([EXAMPLE["condition"]] * 11), "conditions"),
    (_many([EXAMPLE["condition"], {}]), "conditions[1].field"),
    (_with(match="some"), "match"),
    (_with(action={"type": "delete_campaign"}), "action.type"),
    (_with(action=None), "action.type"),
    (_with(action={"type": "pause_campaign", "config": "now"}), "action.config"),
    (_budget(adjustmentType="ratio"), "action.config.adjustmentType"),
    (_budget(value=0), "action.config.value"),
    (_budget(value=-100), "action.config.value"),
    (_budget(value="9e999999"), "action.config.value"),
    (_budget(value=None), "action.config.value"),
    (_budget(floor=0), "action.config.floor"),
    (_budget(cap=-5), "action.config.cap"),
    (_budget(floor=500, cap=100), "action.config.floor"),
    (_budget(maxStepPercent=0), "action.config.maxStepPercent"),
    (_budget(maxStepPercent=1001), "action.config.maxStepPercent"),
    (_with(action={"type": "send_alert", "config": {"message": "x" * 501}}), "action.config.message"),
    (_with(appliesTo="all"), "appliesTo"),
    (_with(appliesTo={"campaigns": ["not-an-id"]}), "appliesTo.campaigns"),
    (_with(appliesTo={"campaigns": str(uuid.uuid4())}), "appliesTo.campaigns"),
    (_with(appliesTo={"tracks": [1]}), "appliesTo.tracks"),
    (_with(cooldownHours=-1), "cooldownHours"),
    (_with(cooldownHours=8761), "cooldownHours"),
    (_with(cooldownHours="24"), "cooldownHours"),
])
def test_each_fault_names_its_json_path(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(RuleSpecError) as caught:
        parse_spec(raw)
    assert caught.value.field == path
    assert caught.value.message


_KEYS = ["condition", "conditions", "match", "action", "appliesTo", "cooldownHours", "field", "operator", "value",
         "durationHours", "multiplier", "type", "config", "adjustmentType", "floor", "cap", "maxStepPercent",
         "campaigns", "tracks", "message"]
_WORDS = [*FIELDS, *OPERATORS, *ACTION_TYPES, "all", "any", "percent", "amount", "1e30", "9e999999", "-1e-9", "NaN",
          str(uuid.UUID(int=7))]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.sampled_from(_WORDS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    max_leaves=20)


@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=6) | st.builds(
    lambda condition, action: {"condition": condition, "action": action},
    st.fixed_dictionaries({"field": st.sampled_from(list(FIELDS)), "operator": st.sampled_from(OPERATORS)},
                          optional={"value": _JSON, "durationHours": _JSON}),
    st.fixed_dictionaries({"type": st.sampled_from(ACTION_TYPES)}, optional={"config": _JSON})))
def test_junk_is_refused_with_a_path(raw: dict[str, Any]) -> None:
    try:
        parse_spec(raw)
    except RuleSpecError as error:
        assert error.field and error.message


_FIGURES = sorted(set(FIELDS) - TEXT_FIELDS)
_EXTREMES = st.sampled_from(["0", "0.5", "-99.99", "1000", "1e30", "-1e30", "9e999999", "1e-999999"])


@given(st.sampled_from(_FIGURES), st.sampled_from(["gte", "lte", "equals"]),
       _EXTREMES | st.fixed_dictionaries({"field": st.sampled_from(_FIGURES), "multiplier": _EXTREMES}),
       st.fixed_dictionaries({"adjustmentType": st.sampled_from(["percent", "amount"]), "value": _EXTREMES},
                             optional={"floor": _EXTREMES, "cap": _EXTREMES, "maxStepPercent": _EXTREMES}))
def test_a_rule_with_extreme_numbers_is_refused_or_evaluates(
        field: str, operator: str, value: object, config: dict[str, Any]) -> None:
    try:
        spec = parse_spec({"condition": {"field": field, "operator": operator, "value": value},
                           "action": {"type": "adjust_budget", "config": config}})
    except RuleSpecError:
        return
    evaluate(spec, history(), NOW, last_fired=None, baseline=BASELINE)
    plan(spec.action, CampaignState(status="active", budget=Decimal(100), currency="USD"), max_step_percent=20,
         guardrail_holds=False)
