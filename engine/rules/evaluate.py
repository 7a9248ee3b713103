"""A rule's evaluation on one campaign at one instant, pure: which conditions hold on which figures, and
whether the rule fires (``evaluate``). The live evaluator and the preview both call it, so a preview over
stored history says what the live rules did, or would have done, on the same data.

A rule fires when its conditions hold (``all`` or ``any`` of them), every figure they read is trusted, it
applies to the campaign, and its cooldown on that campaign is over. A condition on a figure that has no
value, or that the engine does not trust, does not hold, and the evaluation says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec

from engine.analytics.attribution import BaselineRule
from engine.rules.figures import CampaignHistory, Figure, figure
from engine.rules.model import Comparison, Condition, RuleSpec

__all__ = ["ConditionResult", "Evaluation", "applies", "compare", "cooldown_over", "evaluate"]


class ConditionResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One condition as evaluated: the figure's value (``actual``), what it was compared with
    (``expected``: the value, or the other figure times its multiplier), and whether it held. ``untrusted``
    says why a figure was not acted on."""

    field: str
    operator: str
    duration_hours: int | None = None
    actual: str | None = None
    expected: str | list[str] | None = None
    met: bool = False
    untrusted: str | None = None


class Evaluation(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The outcome: ``fires`` when the rule acts now; ``held`` when its conditions held on trusted figures
    (it may still wait for its cooldown, ``cooling``)."""

    held: bool
    fires: bool
    cooling: bool
    conditions: list[ConditionResult]


def _text(value: Decimal | str | None) -> str | None:
    return None if value is None else str(value)


def compare(operator: str, actual: Decimal | str, expected: Decimal | str | list[str]) -> bool:
    """``actual operator expected``: numbers as decimals, texts case-insensitively (``contains`` too)."""
    if operator == "in":
        assert isinstance(expected, list)
        if isinstance(actual, str):
            return actual.casefold() in {item.casefold() for item in expected}
        return any(actual == Decimal(item) for item in expected)
    if isinstance(actual, str):  # status, name: texts (parse_spec keeps figures and texts apart)
        left, right = str(actual).casefold(), str(expected).casefold()
        return {"equals": left == right, "not_equals": left != right, "contains": right in left}.get(operator, False)
    left_n, right_n = Decimal(actual), Decimal(str(expected))
    return {
        "equals": left_n == right_n, "not_equals": left_n != right_n, "greater_than": left_n > right_n,
        "less_than": left_n < right_n, "gte": left_n >= right_n, "lte": left_n <= right_n,
    }.get(operator, False)  # fmt: skip


def _condition(condition: Condition, history: CampaignHistory, now: datetime, rule: BaselineRule) -> ConditionResult:
    seen = figure(history, condition.field, condition.duration_hours, now, rule)
    result = ConditionResult(field=condition.field, operator=condition.operator,
                             duration_hours=condition.duration_hours, actual=_text(seen.value))
    expected: Decimal | str | list[str]
    if isinstance(condition.value, Comparison):
        other: Figure = figure(history, condition.value.field, condition.value.duration_hours, now, rule)
        if other.value is None or other.untrusted is not None:
            why = other.untrusted or f"{condition.value.field} has no value"
            return msgspec.structs.replace(result, untrusted=why)
        expected = (Decimal(other.value) * condition.value.multiplier).quantize(Decimal("0.000001"))
    else:
        expected = condition.value
    result = msgspec.structs.replace(result, expected=expected if isinstance(expected, list) else str(expected))
    if seen.value is None or seen.untrusted is not None:
        return msgspec.structs.replace(result, untrusted=seen.untrusted or f"{condition.field} has no value")
    return msgspec.structs.replace(result, met=compare(condition.operator, seen.value, expected))


def applies(spec: RuleSpec, history: CampaignHistory) -> bool:
    """Whether the rule watches the campaign (``appliesTo``: its id listed, its track listed, or all)."""
    scope = spec.applies_to
    if scope.campaigns is None and scope.tracks is None:
        return True
    return (scope.campaigns is not None and history.campaign_id in scope.campaigns) or (
        scope.tracks is not None and history.track_id is not None and history.track_id in scope.tracks)


def cooldown_over(spec: RuleSpec, last_fired: datetime | None, now: datetime) -> bool:
    return last_fired is None or now >= last_fired + timedelta(hours=spec.cooldown_hours)


def evaluate(spec: RuleSpec, history: CampaignHistory, now: datetime, *, last_fired: datetime | None,
             baseline: BaselineRule) -> Evaluation:
    """The rule on the campaign at ``now``, its cooldown counted from ``last_fired`` (its last firing on
    this campaign). The caller has checked ``applies``."""
    results: Sequence[ConditionResult] = [_condition(c, history, now, baseline) for c in spec.conditions]
    joined = all if spec.match == "all" else any
    held = joined(result.met for result in results)
    cooling = held and not cooldown_over(spec, last_fired, now)
    return Evaluation(held=held, fires=held and not cooling, cooling=cooling, conditions=list(results))
