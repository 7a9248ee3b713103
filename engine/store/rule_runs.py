"""The rules' history (docs/rules.md): one row per firing of a rule on a campaign, and one per action a
member took on a campaign by hand (``manual``, no rule). We record what was seen and done; deciding it is
``engine.rules``', and what Meta answered is written into ``meta`` by the writes' applier.

Every function takes the organization's id and filters on it in SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from msgspec import Meta

from engine.store.catalog_common import Executor, Page, Where, encode_json, fetch_page
from engine.store.rows import fetch_one

__all__ = ["Outcome", "Run", "RunRecord", "insert_run", "list_runs"]

Outcome = Literal["applied", "unchanged", "refused", "dry_run"]
# Free-form JSON objects (each action has its own keys). ``Any``: msgspec cannot describe ``object`` in the
# OpenAPI document generated from these Structs.
_JsonObject = dict[str, Annotated[Any, Meta(description="Any JSON value")]]
_object = msgspec.json.Decoder(dict[str, Any])


class RunRecord(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What one entry of the history holds (``insert_run``'s arguments). ``rule_id``/``rule_name`` are the
    rule's (``None`` for a manual action; deleting a rule deletes its history); ``user_id`` the member who
    acted by hand; ``inputs`` the figures the rule saw; ``action`` ``{type, config}``; ``before``/``after``
    the campaign's values the action changed; ``meta`` what Meta answered (``None``: no write to Meta, or
    not answered yet)."""

    rule_id: uuid.UUID | None
    rule_name: str | None
    campaign_id: uuid.UUID
    manual: bool
    user_id: uuid.UUID | None
    dry_run: bool
    at: datetime
    inputs: _JsonObject
    action: _JsonObject
    outcome: Outcome
    detail: str | None
    before: _JsonObject
    after: _JsonObject
    meta: _JsonObject | None


class Run(RunRecord, frozen=True, kw_only=True, rename="camel"):
    """A stored entry of the history."""

    id: uuid.UUID


_FIELDS = ("id, rule_id, rule_name, campaign_id, manual, user_id, dry_run, at, inputs::text AS inputs,"
           " action::text AS action, outcome, detail, before::text AS before, after::text AS after,"
           " meta::text AS meta")
_JSON_COLUMNS = ("inputs", "action", "before", "after", "meta")


def _run(row: asyncpg.Record) -> Run:
    values = dict(row)
    for column in _JSON_COLUMNS:
        if values[column] is not None:
            values[column] = _object.decode(values[column])
    return Run(**values)


async def insert_run(q: Executor, org_id: uuid.UUID, *, rule_id: uuid.UUID | None, rule_name: str | None,
                     campaign_id: uuid.UUID, manual: bool, user_id: uuid.UUID | None, dry_run: bool, at: datetime,
                     inputs: dict[str, Any], action: dict[str, Any], outcome: Outcome, detail: str | None,
                     before: dict[str, Any], after: dict[str, Any], meta: dict[str, Any] | None) -> uuid.UUID:
    """Record one entry of the history and return its id. The campaign must be the organization's (the
    caller has it in hand); a rule_id is the rule's at the time."""
    row = await fetch_one(
        q,
        "INSERT INTO rule_runs (organization_id, rule_id, rule_name, campaign_id, manual, user_id, dry_run, at,"
        " inputs, action, outcome, detail, before, after, meta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb,"
        " $10::jsonb, $11, $12, $13::jsonb, $14::jsonb, $15::jsonb) RETURNING id",
        org_id, rule_id, rule_name, campaign_id, manual, user_id, dry_run, at, encode_json(inputs),
        encode_json(action), outcome, detail, encode_json(before), encode_json(after),
        None if meta is None else encode_json(meta),
    )  # fmt: skip
    run_id = row["id"]
    assert isinstance(run_id, uuid.UUID)
    return run_id


async def list_runs(q: Executor, org_id: uuid.UUID, *, rule_id: uuid.UUID | None = None,
                    campaign_id: uuid.UUID | None = None, limit: int = 20, offset: int = 0) -> Page[Run]:
    """One page of the organization's history, newest first (then by id), of one rule or one campaign or
    both. Raises ``ValueError`` for a negative ``limit`` or ``offset``."""
    where = Where(org_id)
    where.add("organization_id = $1")
    where.equal("rule_id", rule_id)
    where.equal("campaign_id", campaign_id)
    return await fetch_page(q, "rule_runs", _FIELDS, where, "at DESC, id DESC", limit=limit, offset=offset, row=_run)
