"""The audit log's rows (migration 0017, docs/audit-log.md): reading an organization's, attributing the rest of
an open transaction to an actor, and deleting rows past their retention. Writing them is the triggers' job,
never this module's: a change and its row commit together or not at all.

Every read takes the organization's id and filters on it in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from msgspec import Meta

from engine import audit
from engine.store.catalog_common import Executor, Page, Where, fetch_page
from engine.store.database import Connection

__all__ = ["AuditFilter", "Entry", "acting_in", "delete_before", "forget_user", "list_entries"]

# Free-form JSON objects: a row's columns as they were. ``Any``: msgspec cannot describe ``object`` in the
# OpenAPI document generated from these Structs.
_JsonObject = dict[str, Annotated[Any, Meta(description="Any JSON value")]]
_object = msgspec.json.Decoder(dict[str, Any])


class Entry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One recorded change. ``before``/``after``: the row's columns before and after it (for an update only
    the changed ones; ``null`` for a creation's before and a deletion's after), secrets as ``"***"``."""

    id: uuid.UUID
    occurred_at: datetime
    actor_type: audit.ActorType
    actor_user_id: uuid.UUID | None
    actor_rule_id: uuid.UUID | None
    actor_label: str
    action: str
    object_type: str
    object_id: str | None
    before: _JsonObject | None
    after: _JsonObject | None
    ip: str | None
    request_id: str | None
    source: str


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which rows to list: each field that is set must match (``since`` inclusive, ``until`` exclusive)."""

    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_FIELDS = ("id, occurred_at, actor_type, actor_user_id, actor_rule_id, actor_label, action, object_type, object_id,"
           " before::text AS before, after::text AS after, ip, request_id, source")


def _entry(row: asyncpg.Record) -> Entry:
    values = dict(row)
    for column in ("before", "after"):
        if values[column] is not None:
            values[column] = _object.decode(values[column])
    return Entry(**values)


async def list_entries(q: Executor, org_id: uuid.UUID, kept: AuditFilter, *, limit: int = 20,
                       offset: int = 0) -> Page[Entry]:
    """One page of the organization's rows that ``kept`` keeps, newest first (then latest written first).
    Raises ``ValueError`` for a negative ``limit`` or ``offset``."""
    where = Where(org_id)
    where.add("organization_id = $1")
    where.equal("actor_user_id", kept.actor_user_id)
    where.equal("action", kept.action)
    where.equal("object_type", kept.object_type)
    where.equal("object_id", kept.object_id)
    if kept.since is not None:
        where.add(f"occurred_at >= {where.param(kept.since)}")
    if kept.until is not None:
        where.add(f"occurred_at < {where.param(kept.until)}")
    return await fetch_page(q, "audit_log", _FIELDS, where, "occurred_at DESC, seq DESC", limit=limit,
                            offset=offset, row=_entry)


@asynccontextmanager
async def acting_in(tx: Connection, context: audit.AuditContext) -> AsyncIterator[None]:
    """Attribute the changes made in the block, in the open transaction ``tx``, to ``context`` (a rule that
    fires, the guardrail), then to whoever the transaction was begun for again. On an exception the
    transaction is rolled back anyway, and its setting with it."""
    await _set(tx, audit.encode(context))
    yield
    await _set(tx, audit.current_setting() or "")


async def _set(tx: Connection, setting: str) -> None:
    await tx.execute("SELECT set_config('songtrack.audit', $1, true)", setting)


async def delete_before(q: Executor, cutoff: datetime, *, batch: int) -> int:
    """Delete at most ``batch`` rows that occurred before ``cutoff`` (the oldest first); returns how many.
    Bounded, so a first run over years of rows holds no long lock: the caller repeats until fewer come back."""
    status = await q.execute(
        "DELETE FROM audit_log WHERE id IN ("
        " SELECT id FROM audit_log WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)",
        cutoff, batch,
    )
    return int(status.rsplit(" ", 1)[1])


async def forget_user(tx: Connection, org_id: uuid.UUID, user_id: uuid.UUID, email: str) -> None:
    """Take an erased person out of the organization's log, in their erasure's transaction after its last
    change (docs/privacy.md): the rows of their sessions and of invitations to their address go; the rows
    of their account keep the action without its fields; the rows they acted in keep what was done, not
    who or from where; their id in other rows' fields becomes null (as ``privacy.scrub_user_ids`` does)."""
    await tx.execute(
        "DELETE FROM audit_log WHERE organization_id = $1 AND ("
        " (object_type = 'session' AND coalesce(after, before) ->> 'user_id' = $2)"
        " OR (object_type = 'invitation' AND lower(coalesce(after, before) ->> 'email') = lower($3)))",
        org_id, str(user_id), email)
    await tx.execute("UPDATE audit_log SET object_id = NULL, before = NULL, after = NULL"
                     " WHERE organization_id = $1 AND object_type = 'user' AND object_id = $2", org_id, str(user_id))
    await tx.execute("UPDATE audit_log SET actor_user_id = NULL, actor_label = '', ip = NULL"
                     " WHERE organization_id = $1 AND actor_user_id = $2", org_id, user_id)
    quoted = f'"{user_id}"'
    await tx.execute(
        "UPDATE audit_log SET before = replace(before::text, $2, 'null')::jsonb,"
        " after = replace(after::text, $2, 'null')::jsonb"
        " WHERE organization_id = $1 AND (strpos(before::text, $2) > 0 OR strpos(after::text, $2) > 0)",
        org_id, quoted)
