"""The rule editor's form as data, pure: a rule's fields as a person fills them in (``RuleForm``, one
``ConditionRow`` per condition), read from a posted form or from a stored rule, and turned into the API's
JSON (docs/rules.md), which the API's own functions check. Nothing here judges a value: a window of "abc"
hours goes to the API as it is, and the API's message comes back next to the field its path names
(``field_of``: ``conditions[1].value.multiplier`` is row 1's multiplier).

Form field names: ``name``, ``description``, ``dry_run``, ``match``, ``c<i>_field``, ``c<i>_hours`` (empty:
so far), ``c<i>_operator``, ``c<i>_kind`` (``value`` or ``figure``), ``c<i>_value`` (for ``in``, a
comma-separated list), ``c<i>_other_field``, ``c<i>_multiplier``, ``c<i>_other_hours``, ``action``,
``adjustment_type``, ``adjust_value``, ``floor``, ``cap``, ``max_step``, ``message``, ``applies`` (``all``,
``campaigns``, ``tracks``), ``campaigns`` and ``tracks`` (ids), ``cooldown``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from engine.rules.model import Comparison, Condition, RuleSpec

__all__ = ["MAX_CONDITIONS", "ConditionRow", "RuleForm", "field_of", "form_of_spec", "posted_form", "spec_of"]

MAX_CONDITIONS = 10  # the API's limit; the form offers no more rows than it takes


class ConditionRow(msgspec.Struct, kw_only=True):
    """One condition as typed: every value a text, as a form holds it."""

    field: str = "spend"
    hours: str = ""
    operator: str = "greater_than"
    kind: str = "value"
    value: str = ""
    other_field: str = "budget"
    multiplier: str = "1"
    other_hours: str = ""


class RuleForm(msgspec.Struct, kw_only=True):
    """A whole rule as typed in the editor."""

    name: str = ""
    description: str = ""
    dry_run: bool = True  # a new rule starts as a dry run: it records what it would do before it acts
    match: str = "all"
    conditions: list[ConditionRow] = msgspec.field(default_factory=lambda: [ConditionRow()])
    action: str = "pause_campaign"
    adjustment_type: str = "percent"
    adjust_value: str = ""
    floor: str = ""
    cap: str = ""
    max_step: str = ""
    message: str = ""
    applies: str = "all"
    campaigns: list[str] = []
    tracks: list[str] = []
    cooldown: str = "24"


_ROW_FIELDS = tuple(f.name for f in msgspec.structs.fields(ConditionRow))
_TEXTS = ("name", "description", "match", "action", "adjustment_type", "adjust_value", "floor", "cap", "max_step",
          "message", "applies", "cooldown")


def posted_form(posted: Mapping[str, str], lists: Mapping[str, list[str]], rows: int) -> RuleForm:
    """The form as posted: ``posted`` the single values, ``lists`` the multi-valued ones, ``rows`` the
    number of condition rows it had."""
    conditions = [ConditionRow(**{name: posted.get(f"c{i}_{name}", "").strip() for name in _ROW_FIELDS})
                  for i in range(rows)]
    texts = {name: posted.get(name, "").strip() for name in _TEXTS}
    return RuleForm(**texts, dry_run=posted.get("dry_run") == "on", conditions=conditions,
                    campaigns=lists.get("campaigns", []), tracks=lists.get("tracks", []))


def _hours_text(hours: int | None) -> str:
    return "" if hours is None else str(hours)


def _row(condition: Condition) -> ConditionRow:
    value = condition.value
    row = ConditionRow(field=condition.field, hours=_hours_text(condition.duration_hours),
                       operator=condition.operator)
    if isinstance(value, Comparison):
        row.kind, row.other_field = "figure", value.field
        row.multiplier, row.other_hours = str(value.multiplier), _hours_text(value.duration_hours)
    else:
        row.value = ", ".join(value) if isinstance(value, list) else value
    return row


def form_of_spec(spec: RuleSpec, *, name: str = "", description: str | None = None, dry_run: bool = False) -> RuleForm:
    """A stored rule's form, to edit it."""
    config = spec.action.config
    scope = spec.applies_to
    applies = "campaigns" if scope.campaigns is not None else "tracks" if scope.tracks is not None else "all"
    return RuleForm(
        name=name, description=description or "", dry_run=dry_run, match=spec.match,
        conditions=[_row(c) for c in spec.conditions], action=spec.action.type,
        adjustment_type=config.get("adjustmentType", "percent"), adjust_value=config.get("value", ""),
        floor=config.get("floor", ""), cap=config.get("cap", ""), max_step=config.get("maxStepPercent", ""),
        message=config.get("message", ""), applies=applies, campaigns=[str(i) for i in scope.campaigns or []],
        tracks=[str(i) for i in scope.tracks or []], cooldown=str(spec.cooldown_hours),
    )  # fmt: skip


def _whole(text: str) -> object:
    """A whole number typed in a form as a JSON number; anything else as typed, for the API to refuse."""
    return int(text) if text.isdigit() else text


def _hours(text: str) -> object:
    return None if text == "" else _whole(text)


def _condition(row: ConditionRow) -> dict[str, Any]:
    value: object
    if row.kind == "figure":
        value = {"field": row.other_field, "multiplier": row.multiplier or "1",
                 "durationHours": _hours(row.other_hours)}
    elif row.operator == "in":
        value = [item.strip() for item in row.value.split(",") if item.strip()]
    else:
        value = row.value
    return {"field": row.field, "operator": row.operator, "value": value, "durationHours": _hours(row.hours)}


def _config(form: RuleForm) -> dict[str, Any]:
    if form.action == "adjust_budget":
        given = {"adjustmentType": form.adjustment_type, "value": form.adjust_value, "floor": form.floor,
                 "cap": form.cap, "maxStepPercent": form.max_step}
        return {key: value for key, value in given.items() if value != "" or key == "value"}
    if form.action == "send_alert" and form.message:
        return {"message": form.message}
    return {}


def spec_of(form: RuleForm) -> dict[str, Any]:
    """The API's JSON for the form's rule (the members of ``POST /v1/rules``, camelCase)."""
    chosen = {"campaigns": form.campaigns, "tracks": form.tracks}
    return {
        "name": form.name, "description": form.description or None, "dryRun": form.dry_run,
        "conditions": [_condition(row) for row in form.conditions], "match": form.match,
        "action": {"type": form.action, "config": _config(form)},
        "appliesTo": {key: ids if form.applies == key else None for key, ids in chosen.items()},
        "cooldownHours": _whole(form.cooldown),
    }  # fmt: skip


_CONDITION_PATH = re.compile(r"conditions\[(\d+)\](?:\.(\w+))?(?:\[\d+\]|\.(\w+))?")
_CONDITION_MEMBERS = {"field": "field", "operator": "operator", "durationHours": "hours", "value": "value"}
_COMPARED_MEMBERS = {"field": "other_field", "multiplier": "multiplier", "durationHours": "other_hours"}
_MEMBERS = {
    "action.type": "action", "action.config": "action", "action.config.adjustmentType": "adjustment_type",
    "action.config.value": "adjust_value", "action.config.floor": "floor", "action.config.cap": "cap",
    "action.config.maxStepPercent": "max_step", "action.config.message": "message", "cooldownHours": "cooldown",
    "dryRun": "dry_run", "appliesTo": "applies", "campaignIds": "preview_campaign", "startDate": "preview_days",
    "endDate": "preview_days", "condition": "conditions",
}  # fmt: skip


def field_of(path: str) -> str:
    """The form field an API error's JSON path names (``conditions[1].value.multiplier`` → ``c1_multiplier``);
    a top-level member's own name (``name``, ``match``) otherwise."""
    found = _CONDITION_PATH.fullmatch(path)
    if found:
        row, member, inner = found.groups()
        if member == "value" and inner:
            return f"c{row}_{_COMPARED_MEMBERS.get(inner, 'value')}"
        return f"c{row}_{_CONDITION_MEMBERS.get(member or 'value', 'value')}"
    head = re.sub(r"\[\d+\]$", "", path)
    if head.startswith("appliesTo."):
        return head.removeprefix("appliesTo.")
    return _MEMBERS.get(head, head)
