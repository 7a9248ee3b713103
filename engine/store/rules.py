"""An organization's rules (docs/rules.md), their marks of evaluation and firing, and each rule's cooldown
per campaign. What a rule means, and whether one fires, is ``engine.rules``'; the history of its firings is
``rule_runs``'.

Every function that takes an organization's id filters on it in SQL: another organization's rule is not
found. The rule's ``spec`` (its conditions, action and scope) is stored as the ``RuleSpec``'s JSON; its
``cooldown_hours`` column repeats the spec's, for the table's check. Rules are evaluated, and act, in the
order of ``active_rules``: by organization, then the order they were created (then by id).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg
import msgspec

from engine.rules.model import AppliesTo, Rule, RuleSpec
from engine.store.catalog_common import Executor, Page, Where, fetch_page
from engine.store.rows import fetch_one

__all__ = [
    "UPDATABLE_FIELDS",
    "active_rules",
    "create_rule",
    "delete_rule",
    "foreign_targets",
    "get_rule",
    "last_fired",
    "list_rules",
    "mark_evaluated",
    "mark_triggered",
    "set_fired",
    "update_rule",
]

# What update_rule may set: field name -> column (``spec`` also sets ``cooldown_hours``).
_COLUMNS = {"name": "name", "description": "description", "status": "status", "dry_run": "dry_run",
            "spec": "spec"}
UPDATABLE_FIELDS = frozenset(_COLUMNS)
_FIELDS = ("id, organization_id, name, description, status, dry_run, spec::text AS spec, created_at, updated_at,"
           " last_evaluated_at, last_triggered_at, trigger_count")
_spec_decoder = msgspec.json.Decoder(RuleSpec)


def _rule(row: asyncpg.Record) -> Rule:
    values = dict(row)
    return Rule(**{**values, "spec": _spec_decoder.decode(values["spec"])})


def _spec_json(spec: RuleSpec) -> str:
    return msgspec.json.encode(spec).decode()


async def create_rule(q: Executor, org_id: uuid.UUID, *, name: str, description: str | None, status: str,
                      dry_run: bool, spec: RuleSpec, created_by: uuid.UUID | None, now: datetime) -> Rule:
    """Insert the rule and return it. The caller has checked ``spec.applies_to`` (``foreign_targets``)."""
    row = await fetch_one(
        q,
        "INSERT INTO rules (organization_id, name, description, status, dry_run, spec, cooldown_hours, created_by,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $9)"
        f" RETURNING {_FIELDS}",
        org_id, name, description, status, dry_run, _spec_json(spec), spec.cooldown_hours, created_by, now,
    )  # fmt: skip
    return _rule(row)


async def get_rule(q: Executor, org_id: uuid.UUID, rule_id: uuid.UUID) -> Rule | None:
    """The rule, or ``None`` when the organization has no such rule."""
    row = await q.fetchrow(f"SELECT {_FIELDS} FROM rules WHERE organization_id = $1 AND id = $2", org_id, rule_id)
    return None if row is None else _rule(row)


async def list_rules(q: Executor, org_id: uuid.UUID, *, status: str | None = None, limit: int = 20,
                     offset: int = 0) -> Page[Rule]:
    """One page of the organization's rules in their evaluation order (created first, then by id); ``status``
    keeps one status. Raises ``ValueError`` for a negative ``limit`` or ``offset``."""
    where = Where(org_id)
    where.add("organization_id = $1")
    where.equal("status", status)
    return await fetch_page(q, "rules", _FIELDS, where, "created_at, id", limit=limit, offset=offset, row=_rule)


async def update_rule(q: Executor, org_id: uuid.UUID, rule_id: uuid.UUID, changes: Mapping[str, object], *,
                      now: datetime) -> Rule | None:
    """Set the fields in ``changes`` (keys from ``UPDATABLE_FIELDS``; ``spec`` a ``RuleSpec``) and
    ``updated_at``; ``None`` when the organization has no such rule. Raises ``ValueError`` for an unknown
    key. The caller has checked a new spec's ``applies_to``."""
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot update field(s) {', '.join(unknown)}")
    values: dict[str, object] = dict(changes)
    spec = values.get("spec")
    if isinstance(spec, RuleSpec):
        values["spec"], values["cooldown_hours"] = _spec_json(spec), spec.cooldown_hours
    # Column names come from the whitelist, never from the caller's keys.
    columns = {**_COLUMNS, "cooldown_hours": "cooldown_hours"}
    parts = [f"{columns[field]} = ${i + 4}{'::jsonb' if field == 'spec' else ''}" for i, field in enumerate(values)]
    row = await q.fetchrow(
        f"UPDATE rules SET {', '.join([*parts, 'updated_at = $3'])} WHERE organization_id = $1 AND id = $2"
        f" RETURNING {_FIELDS}", org_id, rule_id, now, *values.values())
    return None if row is None else _rule(row)


async def delete_rule(q: Executor, org_id: uuid.UUID, rule_id: uuid.UUID) -> bool:
    """Delete the rule with its cooldowns and history; ``False`` when the organization has no such rule."""
    status = await q.execute("DELETE FROM rules WHERE organization_id = $1 AND id = $2", org_id, rule_id)
    return status == "DELETE 1"


async def foreign_targets(q: Executor, org_id: uuid.UUID, scope: AppliesTo) -> list[str]:
    """The JSON paths (``appliesTo.campaigns[1]``) of the ids in ``scope`` that are not the organization's
    campaigns or tracks; another organization's id is reported as missing, like one that never existed."""
    found: list[str] = []
    for kind, ids in (("campaigns", scope.campaigns), ("tracks", scope.tracks)):
        if not ids:
            continue
        known = {row["id"] for row in await q.fetch(
            f"SELECT id FROM {kind} WHERE organization_id = $1 AND id = ANY($2::uuid[])", org_id, ids)}
        found += [f"appliesTo.{kind}[{i}]" for i, item in enumerate(ids) if item not in known]
    return found


async def active_rules(q: Executor, org_ids: Sequence[uuid.UUID] | None = None) -> list[Rule]:
    """The active rules of ``org_ids`` (``None``: of every organization) in their evaluation order:
    by organization, then created first, then by id."""
    where = "status = 'active'" + ("" if org_ids is None else " AND organization_id = ANY($1::uuid[])")
    args = () if org_ids is None else (list(org_ids),)
    rows = await q.fetch(f"SELECT {_FIELDS} FROM rules WHERE {where} ORDER BY organization_id, created_at, id",
                         *args)
    return [_rule(row) for row in rows]


async def mark_evaluated(q: Executor, rule_ids: Sequence[uuid.UUID], at: datetime) -> None:
    """Record that the rules were evaluated at ``at`` (an earlier ``at`` never moves the mark back)."""
    await q.execute("UPDATE rules SET last_evaluated_at = greatest(last_evaluated_at, $2) WHERE id = ANY($1::uuid[])",
                    list(rule_ids), at)


async def mark_triggered(q: Executor, rule_id: uuid.UUID, at: datetime) -> None:
    """Record one firing of the rule: ``last_triggered_at`` and ``trigger_count + 1``."""
    await q.execute("UPDATE rules SET last_triggered_at = greatest(last_triggered_at, $2),"
                    " trigger_count = trigger_count + 1 WHERE id = $1", rule_id, at)


async def last_fired(q: Executor, rule_ids: Sequence[uuid.UUID], campaign_ids: Sequence[uuid.UUID]
                     ) -> dict[tuple[uuid.UUID, uuid.UUID], datetime]:
    """When each of the rules last fired on each of the campaigns, by (rule id, campaign id); pairs that
    never fired are left out."""
    rows = await q.fetch("SELECT rule_id, campaign_id, fired_at FROM rule_cooldowns"
                         " WHERE rule_id = ANY($1::uuid[]) AND campaign_id = ANY($2::uuid[])",
                         list(rule_ids), list(campaign_ids))
    return {(row["rule_id"], row["campaign_id"]): row["fired_at"] for row in rows}


async def set_fired(q: Executor, rule_id: uuid.UUID, campaign_id: uuid.UUID, at: datetime) -> None:
    """Start the rule's cooldown on the campaign at ``at``."""
    await q.execute("INSERT INTO rule_cooldowns (rule_id, campaign_id, fired_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (rule_id, campaign_id) DO UPDATE SET fired_at = excluded.fired_at",
                    rule_id, campaign_id, at)
