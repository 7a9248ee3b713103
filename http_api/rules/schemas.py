"""The bodies, queries and responses of `/v1/rules`: a rule as the API shows it, and what it is created,
changed or previewed with.

A rule's own members (``condition`` or ``conditions`` with ``match``, ``action``, ``appliesTo``,
``cooldownHours``) are taken as JSON and checked by ``engine.rules.model.parse_spec``, which names the path
of a fault (``condition.operator``); the route answers that with 422. The document still describes them
exactly (``extra_json_schema``): only the check is the model's, so there is one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.rules.model import ACTION_TYPES, FIELDS, OPERATORS, TEXT_FIELDS, Action, AppliesTo, Condition, RuleSpec
from engine.rules.model import Rule as StoredRule
from http_api.catalog.schemas import Description, Name
from http_api.pagination import ListQuery, Pagination

__all__ = ["Rule", "RuleCreate", "RuleList", "RulePatch", "RuleQuery", "RuleSpecMembers", "Status", "spec_json"]

Status = Literal["active", "inactive"]
_HOURS = {"type": ["integer", "null"], "minimum": 1, "maximum": 24 * 366,
          "description": "The window: the last N hours (whole days: ceil(N / 24)); null: the campaign so far"}
_NUMBER = {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "A number, or a string holding one"}
_COMPARISON = {
    "type": "object", "additionalProperties": False, "required": ["field"],
    "description": "Another figure: `multiplier` * `field` over its own window (`spend gte 2 * budget`)",
    "properties": {"field": {"enum": [f for f in FIELDS if f not in TEXT_FIELDS]}, "multiplier": _NUMBER,
                   "durationHours": _HOURS},
}
_CONDITION = {
    "type": "object", "additionalProperties": False, "required": ["field", "operator", "value"],
    "description": "`field` over the last `durationHours` `operator` `value`. A figure is compared with a number"
                   " (or, with `in`, a list of them) or another figure; `status` and `name` with a text (`in`:"
                   " a list of texts; `contains` is for texts only). Fields: docs/rules.md.",
    "properties": {
        "field": {"enum": list(FIELDS)}, "operator": {"enum": list(OPERATORS)},
        "value": {"anyOf": [{"type": "string"}, {"type": "number"},
                            {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}}, _COMPARISON]},
        "durationHours": _HOURS,
    },
}
_ACTION = {
    "type": "object", "required": ["type"],
    "description": "What the rule does when it fires. `adjust_budget` takes `config.adjustmentType` (percent or"
                   " amount), `config.value` (signed, not 0), optional `floor`, `cap` and `maxStepPercent`;"
                   " `send_alert` an optional `config.message`; the others no config.",
    "properties": {"type": {"enum": list(ACTION_TYPES)}, "config": {
        "type": ["object", "null"], "additionalProperties": False,
        "properties": {"adjustmentType": {"enum": ["percent", "amount"]}, "value": _NUMBER, "floor": _NUMBER,
                       "cap": _NUMBER, "maxStepPercent": _NUMBER, "message": {"type": "string", "maxLength": 500}}}},
    "additionalProperties": False,
}
_IDS = {"type": ["array", "null"], "items": {"type": "string", "format": "uuid"}}
_APPLIES = {"type": ["object", "null"], "description": "The campaigns listed, those of the tracks listed, or all"
                                                       " (both null or absent); ids of your organization",
            "properties": {"campaigns": _IDS, "tracks": _IDS}, "additionalProperties": False}


# The members parse_spec checks: any JSON here, described exactly in the document.
_ConditionMember = Annotated[Any, Meta(extra_json_schema={**_CONDITION, "type": ["object", "null"]})]
_ConditionsMember = Annotated[Any, Meta(extra_json_schema={
    "type": ["array", "null"], "minItems": 1, "maxItems": 10, "items": _CONDITION})]
_MatchMember = Annotated[Any, Meta(extra_json_schema={
    "enum": ["all", "any"], "description": "all (default) or any of the conditions"})]
_ActionMember = Annotated[Any, Meta(extra_json_schema=_ACTION)]
_AppliesMember = Annotated[Any, Meta(extra_json_schema=_APPLIES)]
_CooldownMember = Annotated[Any, Meta(extra_json_schema={
    "type": "integer", "minimum": 0, "maximum": 8760, "default": 24,
    "description": "Hours before the rule acts again on the same campaign"})]


class RuleSpecMembers(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """What a rule evaluates and does: one ``condition`` or a list of ``conditions`` (1 to 10) joined by
    ``match``, its ``action``, the campaigns it ``appliesTo`` and its ``cooldownHours`` per campaign (0 to
    8760, default 24)."""

    condition: _ConditionMember = UNSET
    conditions: _ConditionsMember = UNSET
    match: _MatchMember = UNSET
    action: _ActionMember = UNSET
    applies_to: _AppliesMember = UNSET
    cooldown_hours: _CooldownMember = UNSET

    def spec_members(self) -> dict[str, Any]:
        """The members given, as JSON (a null ``condition`` or ``conditions`` counts as absent, so a rule
        read from the API may be sent back as it is)."""
        given = {field.encode_name: getattr(self, field.name) for field in msgspec.structs.fields(RuleSpecMembers)}
        return {name: value for name, value in given.items()
                if value is not UNSET and not (name in ("condition", "conditions") and value is None)}


class RuleCreate(RuleSpecMembers, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A new rule, active unless ``status`` says otherwise; a ``dryRun`` rule records its firings and acts on
    nothing."""

    name: Name
    description: Description | None = None
    status: Status = "active"
    dry_run: bool = False


class RulePatch(RuleSpecMembers, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The members to change; the others stay. A ``condition`` replaces ``conditions`` and the other way
    round."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    status: Status | UnsetType = UNSET
    dry_run: bool | UnsetType = UNSET

    def changes(self) -> dict[str, object]:
        """The stored fields to set, other than the spec."""
        return {field: value for field, value in (("name", self.name), ("description", self.description),
                                                  ("status", self.status), ("dry_run", self.dry_run))
                if value is not UNSET}


def spec_json(spec: RuleSpec) -> dict[str, Any]:
    """A stored spec as the API's JSON, for ``parse_spec`` to take again with a PATCH's members over it."""
    return {"conditions": msgspec.to_builtins(spec.conditions), "match": spec.match,
            "action": msgspec.to_builtins(spec.action), "appliesTo": msgspec.to_builtins(spec.applies_to),
            "cooldownHours": spec.cooldown_hours}


class Rule(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A rule. ``condition`` is its condition when it has one, else null (``conditions`` always lists them);
    ``lastEvaluatedAt``, ``lastTriggeredAt`` and ``triggerCount`` are the engine's to write."""

    id: uuid.UUID
    name: str
    description: str | None
    status: Status
    dry_run: bool
    condition: Condition | None
    conditions: list[Condition]
    match: Literal["all", "any"]
    action: Action
    applies_to: AppliesTo
    cooldown_hours: int
    last_evaluated_at: datetime | None
    last_triggered_at: datetime | None
    trigger_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: StoredRule) -> Rule:
        spec = rule.spec
        return cls(
            id=rule.id, name=rule.name, description=rule.description, status=rule.status, dry_run=rule.dry_run,
            condition=spec.conditions[0] if len(spec.conditions) == 1 else None, conditions=spec.conditions,
            match=spec.match, action=spec.action, applies_to=spec.applies_to, cooldown_hours=spec.cooldown_hours,
            last_evaluated_at=rule.last_evaluated_at, last_triggered_at=rule.last_triggered_at,
            trigger_count=rule.trigger_count, created_at=rule.created_at, updated_at=rule.updated_at,
        )  # fmt: skip


class RuleQuery(ListQuery, kw_only=True):
    """A page of rules in their evaluation order; ``status`` keeps one status."""

    status: Status | UnsetType = UNSET


class RuleList(msgspec.Struct, frozen=True, kw_only=True):
    rules: list[Rule]
    pagination: Pagination
