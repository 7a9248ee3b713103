"""The queue of writes to Meta that actions call for (``meta_writes``, migration 0016): "set the linked Meta
campaign's status, or its lifetime budget, to X", enqueued in the transaction of the action that calls for it
(a rule's, a member's, the guardrail's) and drained by the Meta account actor (``actors/meta_writes.py``).
This module keeps the queue and the outcomes; it never calls Meta.

A write is ``pending`` until it is ``applied`` (Meta has the value), ``refused`` (Meta refused it, we would not
send it, or its transient failures ran out) or ``superseded`` (a newer write of the same campaign and field
was enqueued first). Each outcome is copied to the rule run that asked for it, ``rule_runs.meta``:
``{"state": "pending"|"applied"|"refused"|"superseded", "error": {"code", "message"}, "at"}`` (``error`` only
with a refusal or a transient failure). A refusal is shown as a refused push is, on the campaign's
``metaSync.error`` with ``campaign.meta_sync_failed`` (``campaign_meta.record_meta_sync``), and a rule's as
``rule.action_failed`` too, in the transaction that records it. Every function takes the organization's id
and filters on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

import msgspec

from engine.guardrail import PauseCause
from engine.store.campaign_meta import record_meta_sync
from engine.store.campaign_model import CampaignMetaRefusal
from engine.store.catalog_common import Executor, NotFound, atomic, encode_json
from engine.store.database import Connection
from engine.store.outbox import enqueue_event

__all__ = [
    "ACTION_FAILED", "MetaWrite", "WriteError", "WriteField", "WriteState", "enqueue_write", "mark_applied",
    "mark_refused", "pending_unlinked", "pending_writes", "record_failed_attempt",
]  # fmt: skip

WriteField = Literal["status", "budget"]
WriteState = Literal["pending", "applied", "refused", "superseded"]
ACTION_FAILED = "rule.action_failed"  # a rule's write refused (``mark_refused``)
_STATUSES = frozenset({"ACTIVE", "PAUSED"})
_SYNC_ACTION: dict[WriteField, str] = {"status": "set_status", "budget": "set_budget"}  # metaSync.error.action


class WriteError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a write was refused, or how its last try failed: ``code`` is the API's error code of the refusal
    (``INTEGRATION_ERROR``: Meta refused or could not be reached; ``CONFLICT``: we did not send it)."""

    code: str
    message: str


class MetaWrite(msgspec.Struct, frozen=True, kw_only=True):
    """One queued write. ``value`` is ``{"status": "ACTIVE"|"PAUSED"}`` or ``{"budget": "80.00", "currency":
    "USD"}`` (our budget, major units); ``attempts`` counts the tries that failed without a refusal; ``error``
    is the refusal, or the last such failure."""

    id: int
    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    field: WriteField
    value: dict[str, str]
    cause: PauseCause
    run_id: uuid.UUID | None
    state: WriteState
    attempts: int
    error: WriteError | None
    created_at: datetime
    done_at: datetime | None


_writes_decoder = msgspec.json.Decoder(list[MetaWrite])
_PENDING = ("SELECT coalesce(json_agg(w ORDER BY w.id), '[]')::text FROM meta_writes w"
            " WHERE w.organization_id = $1 AND w.state = 'pending' AND w.campaign_id = ANY ({campaigns})")


async def enqueue_write(q: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, field: WriteField,
                        value: Mapping[str, str], cause: PauseCause, run_id: uuid.UUID | None, now: datetime) -> int:
    """Queue "set ``field`` of the campaign's Meta campaign to ``value``" (shapes as ``MetaWrite.value``) and
    return its id; the campaign's pending write of that field, if any, is superseded. ``run_id`` is the rule
    run that asked for it: its ``meta`` becomes pending. Runs in ``q``'s transaction when ``q`` is one (the
    action's: the write exists if and only if the action committed), else in its own.

    Error handling: ``ValueError`` for a ``value`` of another shape; ``NotFound("campaignId", ...)`` when the
    organization has no such campaign.
    """
    _check(field, value)
    async with atomic(q) as tx:
        # The campaign's row lock orders two writers of one campaign: the later one supersedes the earlier
        # one's write instead of colliding with it on meta_writes_pending_idx.
        if await tx.fetchval("SELECT 1 FROM campaigns WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE",
                             org_id, campaign_id) is None:
            raise NotFound("campaignId", "no such campaign")
        older = await tx.fetch("UPDATE meta_writes SET state = 'superseded', done_at = $4 WHERE organization_id = $1"
                               " AND campaign_id = $2 AND field = $3 AND state = 'pending' RETURNING run_id",
                               org_id, campaign_id, field, now)
        for row in older:
            await _run_meta(tx, org_id, row["run_id"], "superseded", None, now)
        write_id = await tx.fetchval(
            "INSERT INTO meta_writes (organization_id, campaign_id, field, value, cause, run_id, created_at)"
            " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) RETURNING id",
            org_id, campaign_id, field, encode_json(value), encode_json(cause), run_id, now)
        await _run_meta(tx, org_id, run_id, "pending", None, now)
    assert isinstance(write_id, int)
    return write_id


async def pending_writes(q: Executor, org_id: uuid.UUID, campaign_ids: Collection[uuid.UUID]) -> list[MetaWrite]:
    """The pending writes of the organization's campaigns ``campaign_ids``, in id order (the order to apply)."""
    return await _pending(q, _PENDING.format(campaigns="$2::uuid[]"), org_id, list(campaign_ids))


async def pending_unlinked(q: Executor, org_id: uuid.UUID) -> list[MetaWrite]:
    """The pending writes of the organization's campaigns that are not linked to a Meta campaign, in id order."""
    campaigns = "(SELECT id FROM campaigns WHERE organization_id = $1 AND meta_campaign_id IS NULL)"
    return await _pending(q, _PENDING.format(campaigns=f"ARRAY{campaigns}"), org_id)


async def mark_applied(q: Executor, write: MetaWrite, *, now: datetime, budget_minor: int | None = None,
                       currency: str | None = None) -> None:
    """Record that Meta has the write's value. ``budget_minor`` (in ``currency``, the ad account's) is the
    lifetime budget Meta now has, recorded on the campaign (``metaSync``) even when a newer write superseded
    this one meanwhile: it is what Meta has."""
    async with atomic(q) as tx:
        if await _finish(tx, write, "applied", None, now):
            await _run_meta(tx, write.organization_id, write.run_id, "applied", None, now)
        if budget_minor is not None:
            await record_meta_sync(tx, write.organization_id, write.campaign_id, now=now, budget_minor=budget_minor,
                                   currency=currency)


async def mark_refused(q: Executor, write: MetaWrite, error: WriteError, *, now: datetime) -> None:
    """Refuse the write for good, unless a newer one superseded it meanwhile (then nothing is recorded).

    In one transaction: the refusal on the write and on its rule run, on the campaign (``metaSync.error``
    with ``campaign.meta_sync_failed``, when it is still linked), and ``rule.action_failed`` when a rule
    asked for it: ``{ruleId, campaignId, campaignName, runId, field, value, error: {code, message}}``.
    """
    org_id = write.organization_id
    async with atomic(q) as tx:
        if not await _finish(tx, write, "refused", error, now):
            return
        await _run_meta(tx, org_id, write.run_id, "refused", error, now)
        refusal = CampaignMetaRefusal(action=_SYNC_ACTION[write.field], code=error.code, message=error.message,
                                      at=now)
        await record_meta_sync(tx, org_id, write.campaign_id, now=now, error=refusal)
        if write.cause.rule_id is None:
            return
        name = await tx.fetchval("SELECT name FROM campaigns WHERE organization_id = $1 AND id = $2", org_id,
                                 write.campaign_id)
        await enqueue_event(tx, org_id, ACTION_FAILED, {
            "ruleId": write.cause.rule_id, "campaignId": write.campaign_id, "campaignName": name,
            "runId": write.run_id, "field": write.field, "value": write.value, "error": error}, now=now)


async def record_failed_attempt(q: Executor, write: MetaWrite, error: WriteError, *, now: datetime) -> None:
    """Count a try that failed in a way worth trying again (Meta unreachable, a transient error, a rate
    limit); the write stays pending, with ``error`` as its last failure (and its rule run's)."""
    async with atomic(q) as tx:
        counted = await tx.execute("UPDATE meta_writes SET attempts = attempts + 1, error = $3::jsonb"
                                   " WHERE organization_id = $1 AND id = $2 AND state = 'pending'",
                                   write.organization_id, write.id, encode_json(error))
        if counted == "UPDATE 1":
            await _run_meta(tx, write.organization_id, write.run_id, "pending", error, now)


async def _pending(q: Executor, sql: str, *args: object) -> list[MetaWrite]:
    text = await q.fetchval(sql, *args)
    assert isinstance(text, str)
    return _writes_decoder.decode(text)


async def _finish(tx: Connection, write: MetaWrite, state: WriteState, error: WriteError | None,
                  now: datetime) -> bool:
    status = await tx.execute("UPDATE meta_writes SET state = $3, error = $4::jsonb, done_at = $5"
                              " WHERE organization_id = $1 AND id = $2 AND state = 'pending'",
                              write.organization_id, write.id, state,
                              None if error is None else encode_json(error), now)
    return bool(status == "UPDATE 1")


async def _run_meta(tx: Connection, org_id: uuid.UUID, run_id: uuid.UUID | None, state: WriteState,
                    error: WriteError | None, now: datetime) -> None:
    if run_id is None:
        return
    meta: dict[str, object] = {"state": state, "at": now}
    if error is not None:
        meta["error"] = error
    await tx.execute("UPDATE rule_runs SET meta = $3::jsonb WHERE organization_id = $1 AND id = $2", org_id,
                     run_id, encode_json(meta))


def _check(field: WriteField, value: Mapping[str, str]) -> None:
    if field == "status" and value.keys() == {"status"} and value["status"] in _STATUSES:
        return
    if field == "budget" and value.keys() == {"budget", "currency"}:
        try:
            if Decimal(value["budget"]).is_finite():
                return
        except InvalidOperation:
            pass
    raise ValueError(f"not a {field} write to Meta: {dict(value)!r}")
