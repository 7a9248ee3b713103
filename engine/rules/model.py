"""What a rule is, pure: its conditions, its action and its scope, as the API spells them (docs/rules.md).

A rule reads figures of a campaign (``FIELDS``), each over a window of hours (``durationHours``; none means
the campaign so far), compares them with a value or with another figure (``Comparison``: "spend gte 2 *
budget"), joins its conditions with ``all`` or ``any``, and when they hold does one ``Action``. ``parse_spec``
turns the API's JSON into a ``RuleSpec`` or raises ``RuleSpecError`` naming the faulty field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

import msgspec

__all__ = [
    "ACTION_TYPES",
    "CAMPAIGN_FIELDS",
    "FIELDS",
    "OPERATORS",
    "TEXT_FIELDS",
    "Action",
    "ActionType",
    "AppliesTo",
    "Comparison",
    "Condition",
    "Operator",
    "Rule",
    "RuleSpec",
    "RuleSpecError",
    "parse_spec",
]

Operator = Literal["equals", "not_equals", "greater_than", "less_than", "gte", "lte", "in", "contains"]
OPERATORS: tuple[str, ...] = get_args(Operator)
ActionType = Literal["pause_campaign", "resume_campaign", "adjust_budget", "send_alert", "webhook"]
ACTION_TYPES: tuple[str, ...] = get_args(ActionType)

# Every figure a condition may read, with its definition (docs/rules.md repeats them with their sources).
FIELDS: dict[str, str] = {
    "spend": "ad spend in the window, in the campaign's currency (Meta)",
    "dailySpend": "spend per day of the window (Meta)",
    "impressions": "impressions in the window (Meta)",
    "clicks": "link clicks in the window (Meta)",
    "ctr": "clicks / impressions * 100 in the window (Meta)",
    "cpc": "spend / clicks in the window (Meta)",
    "cpm": "spend / impressions * 1000 in the window (Meta)",
    "budget": "the campaign's budget (lifetime, in its currency)",
    "budgetSpent": "spend since the campaign started (Meta)",
    "budgetUsed": "budgetSpent / budget * 100",
    "pacing": "projected spend at the end date / budget * 100, projecting the window's daily spend",
    "streams": "streams of the campaign's track in the window (Spotify)",
    "dailyStreams": "streams per day of the window (Spotify)",
    "baselineDailyStreams": "the track's mean daily streams in the baseline days before the campaign (Spotify)",
    "incrementalStreams": "streams in the window - baseline daily mean * days of the window (Spotify)",
    "streamsPerMille": "streams / impressions * 1000 in the window (Spotify and Meta)",
    "costPerStream": "spend / streams in the window (Meta and Spotify)",
    "costPerIncrementalStream": "spend / incremental streams in the window, when those are above 0",
    "listenersOptedIn": "fans who connected Spotify through the campaign's link by the window's end",
    "listenerPlays": "plays of the track by those fans in the window, after they opted in (Spotify)",
    "status": "the campaign's status (draft, active, paused, completed, archived)",
    "name": "the campaign's name",
}
TEXT_FIELDS = frozenset({"status", "name"})
# Figures of the campaign as a whole: a window does not apply to them.
CAMPAIGN_FIELDS = frozenset({"budget", "budgetSpent", "budgetUsed", "baselineDailyStreams", "status", "name"})
_ORDERED: frozenset[str] = frozenset({"greater_than", "less_than", "gte", "lte"})
_MAX_HOURS = 24 * 366


class RuleSpecError(ValueError):
    """A rule's JSON is not a rule: ``field`` is the JSON path of the fault (``condition.operator``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class Comparison(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """The other side of a condition that compares two figures: ``multiplier`` * ``field`` over its own
    window (``durationHours``; none: the campaign so far)."""

    field: str
    multiplier: Decimal = Decimal(1)
    duration_hours: int | None = None


class Condition(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``field`` over the last ``duration_hours`` (none: the campaign so far) ``operator`` ``value``. The
    value is a number (kept as a decimal string, as the reference sends it), a text for ``status`` and
    ``name``, a list for ``in``, or a ``Comparison``."""

    field: str
    operator: Operator
    value: str | list[str] | Comparison
    duration_hours: int | None = None


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule does when it fires; ``config`` holds the type's settings as given (checked by
    ``parse_spec``): for ``adjust_budget``, ``adjustmentType`` (percent or amount), ``value`` (signed),
    optional ``floor``, ``cap`` and ``maxStepPercent``; for ``send_alert``, an optional ``message``."""

    type: ActionType
    config: dict[str, Any] = {}


class AppliesTo(msgspec.Struct, frozen=True, kw_only=True):
    """The campaigns a rule watches: those listed, those of the tracks listed, or all (both null)."""

    campaigns: list[uuid.UUID] | None = None
    tracks: list[uuid.UUID] | None = None


class RuleSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule evaluates and does: the part its evaluation depends on."""

    conditions: list[Condition]
    match: Literal["all", "any"] = "all"
    action: Action
    applies_to: AppliesTo = AppliesTo()
    cooldown_hours: int = 24


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A stored rule."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None
    status: Literal["active", "inactive"]
    dry_run: bool
    spec: RuleSpec
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None = None
    last_triggered_at: datetime | None = None
    trigger_count: int = 0


def _number(path: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise RuleSpecError(path, "must be a number (or a string holding one)")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise RuleSpecError(path, f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise RuleSpecError(path, "must be a finite number")
    return value


def _hours(path: str, raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= _MAX_HOURS:
        raise RuleSpecError(path, f"must be a whole number of hours from 1 to {_MAX_HOURS}, or null")
    return raw


def _field(path: str, raw: object) -> str:
    if not isinstance(raw, str) or raw not in FIELDS:
        raise RuleSpecError(path, f"unknown field {raw!r}; one of: {', '.join(FIELDS)}")
    return raw


def _condition(path: str, raw: object) -> Condition:
    if not isinstance(raw, dict):
        raise RuleSpecError(path, "must be an object with field, operator and value")
    unknown = set(raw) - {"field", "operator", "value", "durationHours"}
    if unknown:
        raise RuleSpecError(f"{path}.{sorted(unknown)[0]}", "unknown member of a condition")
    field = _field(f"{path}.field", raw.get("field"))
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise RuleSpecError(f"{path}.operator", f"unknown operator {operator!r}; one of: {', '.join(OPERATORS)}")
    hours = _hours(f"{path}.durationHours", raw.get("durationHours"))
    return Condition(field=field, operator=operator, value=_value(f"{path}.value", field, operator, raw.get("value")),
                     duration_hours=hours)


def _value(path: str, field: str, operator: str, raw: object) -> str | list[str] | Comparison:
    text = field in TEXT_FIELDS
    if operator == "in":
        if not isinstance(raw, list) or not raw:
            raise RuleSpecError(path, "in takes a non-empty list")
        return [str(item) if text else str(_number(f"{path}[{i}]", item)) for i, item in enumerate(raw)]
    if isinstance(raw, dict):
        if text:
            raise RuleSpecError(path, f"{field} is a text; it is compared with a text, not another field")
        if operator == "contains":
            raise RuleSpecError(path, "contains compares texts, not figures")
        unknown = set(raw) - {"field", "multiplier", "durationHours"}
        if unknown:  # a misspelt multiplier would otherwise compare with 1 * the figure
            raise RuleSpecError(f"{path}.{sorted(unknown)[0]}", "unknown member of a compared figure")
        other = _field(f"{path}.field", raw.get("field"))
        if other in TEXT_FIELDS:
            raise RuleSpecError(f"{path}.field", f"{other} is a text, not a figure")
        multiplier = _number(f"{path}.multiplier", raw.get("multiplier", 1))
        if not 0 < multiplier <= 1000:  # figures are not negative, and a huge product overflows the evaluation
            raise RuleSpecError(f"{path}.multiplier", "must be above 0 and at most 1000")
        hours = _hours(f"{path}.durationHours", raw.get("durationHours"))
        return Comparison(field=other, multiplier=multiplier, duration_hours=hours)
    if text:
        if operator in _ORDERED:
            raise RuleSpecError(f"{path}", f"{field} is a text: use equals, not_equals, in or contains")
        if not isinstance(raw, str):
            raise RuleSpecError(path, f"{field} is compared with a text")
        return raw
    if operator == "contains":
        raise RuleSpecError(path, f"contains compares texts; {field} is a figure")
    return str(_number(path, raw))


def _action(raw: object) -> Action:
    if not isinstance(raw, dict) or raw.get("type") not in ACTION_TYPES:
        kind = raw.get("type") if isinstance(raw, dict) else None
        raise RuleSpecError("action.type", f"unknown action {kind!r}; one of: {', '.join(ACTION_TYPES)}")
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        raise RuleSpecError("action.config", "must be an object")
    kind = raw["type"]
    if kind == "adjust_budget":
        return Action(type=kind, config=_budget_config(config))
    if kind == "send_alert":
        message = config.get("message")
        if message is not None and (not isinstance(message, str) or len(message) > 500):
            raise RuleSpecError("action.config.message", "must be a text of at most 500 characters")
        return Action(type=kind, config={} if message is None else {"message": message})
    return Action(type=kind, config={})


def _budget_config(config: dict[str, Any]) -> dict[str, Any]:
    kind = config.get("adjustmentType")
    if kind not in ("percent", "amount"):
        raise RuleSpecError("action.config.adjustmentType", "must be percent or amount")
    value = _number("action.config.value", config.get("value"))
    if value == 0:
        raise RuleSpecError("action.config.value", "must not be 0: negative lowers the budget, positive raises it")
    if kind == "percent" and value <= -100:
        raise RuleSpecError("action.config.value", "a budget cannot be lowered by 100 % or more")
    if kind == "percent" and value > 1000:  # no step exceeds 1000 % (maxStepPercent), and huge ones overflow
        raise RuleSpecError("action.config.value", "a budget cannot be raised by more than 1000 %")
    out: dict[str, Any] = {"adjustmentType": kind, "value": str(value)}
    for bound in ("floor", "cap"):
        if config.get(bound) is not None:
            amount = _number(f"action.config.{bound}", config[bound])
            if amount <= 0:
                raise RuleSpecError(f"action.config.{bound}", "must be above 0")
            out[bound] = str(amount)
    if "floor" in out and "cap" in out and Decimal(out["floor"]) > Decimal(out["cap"]):
        raise RuleSpecError("action.config.floor", "must not be above cap")
    if config.get("maxStepPercent") is not None:
        step = _number("action.config.maxStepPercent", config["maxStepPercent"])
        if not 0 < step <= 1000:
            raise RuleSpecError("action.config.maxStepPercent", "must be above 0 and at most 1000")
        out["maxStepPercent"] = str(step)
    return out


def _ids(path: str, raw: object) -> list[uuid.UUID] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise RuleSpecError(path, "must be a list of ids, or null for all")
    try:
        return [uuid.UUID(str(item)) for item in raw]
    except ValueError:
        raise RuleSpecError(path, "every item must be an id") from None


def parse_spec(raw: dict[str, Any]) -> RuleSpec:
    """The spec in the API's JSON (``condition`` or ``conditions`` with ``match``, ``action``, ``appliesTo``,
    ``cooldownHours``). Raises ``RuleSpecError``."""
    if ("condition" in raw) == ("conditions" in raw):
        raise RuleSpecError("condition", "give condition (one) or conditions (a list), not both nor neither")
    if "condition" in raw:
        conditions = [_condition("condition", raw["condition"])]
    else:
        items = raw["conditions"]
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            raise RuleSpecError("conditions", "must be a list of 1 to 10 conditions")
        conditions = [_condition(f"conditions[{i}]", item) for i, item in enumerate(items)]
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        raise RuleSpecError("match", "must be all or any")
    scope = raw.get("appliesTo") or {}
    if not isinstance(scope, dict):
        raise RuleSpecError("appliesTo", "must be an object with campaigns and tracks (null for all)")
    applies = AppliesTo(campaigns=_ids("appliesTo.campaigns", scope.get("campaigns")),
                        tracks=_ids("appliesTo.tracks", scope.get("tracks")))
    cooldown = raw.get("cooldownHours", 24)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or not 0 <= cooldown <= 8760:
        raise RuleSpecError("cooldownHours", "must be a whole number of hours from 0 to 8760")
    return RuleSpec(conditions=conditions, match=match, action=_action(raw.get("action")), applies_to=applies,
                    cooldown_hours=cooldown)
