"""The rule editor's form as data: a valid rule shown in the form and sent back is the same rule (the form
loses nothing the API's JSON says), and an API error's path names the form field it came from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.rules.model import FIELDS, OPERATORS, TEXT_FIELDS, parse_spec
from http_api.console.rule_fields import field_of, form_of_spec, spec_of

_FIGURES = [f for f in FIELDS if f not in TEXT_FIELDS]
_HOURS = st.none() | st.integers(1, 24 * 366)


def _numbers(low: str, high: str) -> st.SearchStrategy[str]:
    return st.decimals(Decimal(low), Decimal(high), places=3, allow_nan=False, allow_infinity=False).map(str)


_WORD = st.text("abcdefghij XYZ-'", min_size=1, max_size=8).map(str.strip).filter(bool)  # a list item: no comma


@st.composite
def _condition(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(list(FIELDS)))
    text = field in TEXT_FIELDS
    operators = ["equals", "not_equals", "in", "contains"] if text else [o for o in OPERATORS if o != "contains"]
    operator = draw(st.sampled_from(operators))
    value: object
    if operator == "in":
        value = draw(st.lists(_WORD if text else _numbers("-1000", "1000"), min_size=1, max_size=3))
    elif text:
        value = draw(st.text("abc %,", max_size=6))
    else:
        value = draw(_numbers("-1e6", "1e6") | st.fixed_dictionaries(
            {"field": st.sampled_from(_FIGURES), "multiplier": _numbers("0.001", "1000"), "durationHours": _HOURS}))
    return {"field": field, "operator": operator, "value": value, "durationHours": draw(_HOURS)}


_BUDGET = st.fixed_dictionaries(
    {"adjustmentType": st.sampled_from(["percent", "amount"]), "value": _numbers("-99", "1000").filter(
        lambda v: Decimal(v) != 0)},
    optional={"floor": _numbers("0.01", "100"), "cap": _numbers("100", "1e6"), "maxStepPercent": _numbers("1", "1000")})
_ACTION = (st.fixed_dictionaries({"type": st.sampled_from(["pause_campaign", "resume_campaign", "webhook"])})
           | st.fixed_dictionaries({"type": st.just("send_alert")}, optional={"config": st.fixed_dictionaries(
               {"message": st.text(min_size=1, max_size=20)})})
           | st.fixed_dictionaries({"type": st.just("adjust_budget"), "config": _BUDGET}))
_SCOPE = st.sampled_from(["campaigns", "tracks"]).flatmap(
    lambda key: st.fixed_dictionaries({key: st.lists(st.uuids().map(str), max_size=3)})) | st.just({})


@given(st.lists(_condition(), min_size=1, max_size=10), st.sampled_from(["all", "any"]), _ACTION, _SCOPE,
       st.integers(0, 8760), st.booleans())
def test_a_valid_rule_shown_in_the_form_and_sent_back_is_the_same_rule(
        conditions: list[dict[str, Any]], match: str, action: dict[str, Any], scope: dict[str, Any],
        cooldown: int, dry_run: bool) -> None:
    spec = parse_spec({"conditions": conditions, "match": match, "action": action, "appliesTo": scope,
                       "cooldownHours": cooldown})
    sent = spec_of(form_of_spec(spec, name="Rule", description="Why", dry_run=dry_run))
    assert parse_spec(sent) == spec
    assert (sent["name"], sent["description"], sent["dryRun"]) == ("Rule", "Why", dry_run)


@pytest.mark.parametrize(("path", "field"), [
    ("conditions[1].value.multiplier", "c1_multiplier"), ("conditions[0].value.durationHours", "c0_other_hours"),
    ("conditions[2].value.field", "c2_other_field"), ("conditions[0].value[1]", "c0_value"),
    ("conditions[3].value", "c3_value"), ("conditions[0].durationHours", "c0_hours"),
    ("conditions[0].operator", "c0_operator"), ("conditions", "conditions"), ("name", "name"),
    ("action.config.maxStepPercent", "max_step"), ("action.config.value", "adjust_value"),
    ("appliesTo.campaigns[2]", "campaigns"), ("cooldownHours", "cooldown"), ("campaignIds[0]", "preview_campaign"),
    ("endDate", "preview_days"),
])
def test_an_api_errors_path_names_its_form_field(path: str, field: str) -> None:
    assert field_of(path) == field
