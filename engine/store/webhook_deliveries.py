"""The dispatcher's side of the webhook outbox: claiming due deliveries (``FOR UPDATE SKIP LOCKED``, at most
each endpoint's free ``max_in_flight``), the secrets that sign an attempt, and recording each attempt with
its outcome: success, a retry, failure, or the endpoint disabled (410, or 5 days of nothing but failures).

Times that decide what is due (``now``) are passed in by the caller, never read from the database's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from engine.secrets_box import open_
from engine.store.database import Database
from engine.store.outbox import enqueue_event
from engine.store.rows import Queries, as_struct, row_count
from engine.store.webhooks import secret_aad
from engine.webhooks.schedule import Decision

__all__ = [
    "DISABLE_AFTER", "AttemptResult", "Claim", "Status", "active_secrets", "claim_due", "delivery_statuses",
    "pending_backlog", "record_attempt", "release_claims", "take_back_claims",
]  # fmt: skip

DISABLE_AFTER = timedelta(days=5)  # of nothing but failures
_RESPONSE_BODY_LIMIT = 4096


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery a worker holds until ``claimed_until``: what to send, where, and with which secrets
    (still sealed: the dispatcher opens them just before signing)."""

    delivery_id: uuid.UUID
    event_id: str
    endpoint_id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    payload: str
    attempts: int  # before this one
    max_in_flight: int
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None
    event_created_at: datetime  # by the database's clock: where a delivery's end-to-end delay starts
    traceparent: str | None = None  # of the span that enqueued the event: the attempt's span continues it


class AttemptResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt got: a status code or an error, how long it took, the start of the answer."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None


def active_secrets(key: bytes, claim: Claim, now: datetime) -> list[str]:
    """The secrets that sign an attempt at ``now``: the current one, then the previous one during the
    rotation overlap."""
    aad = secret_aad(claim.organization_id, claim.endpoint_id)
    found = [open_(key, claim.secret_sealed, aad)]
    expires = claim.previous_secret_expires_at
    if claim.previous_secret_sealed is not None and expires is not None and now < expires:
        found.append(open_(key, claim.previous_secret_sealed, aad))
    return found


_CLAIM = """
WITH picked AS (
    SELECT d.id, e.url, e.max_in_flight, e.secret_sealed, e.previous_secret_sealed,
           e.previous_secret_expires_at
    FROM webhook_endpoints e
    CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1
          AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
        ORDER BY d.next_attempt_at, d.id
        LIMIT greatest(e.max_in_flight - (
            SELECT count(*) FROM webhook_deliveries b
            WHERE b.endpoint_id = e.id AND b.status = 'pending' AND b.claimed_until > $1), 0)
        FOR UPDATE OF d SKIP LOCKED
    ) d
    WHERE e.enabled
    LIMIT $4
)
UPDATE webhook_deliveries w SET claimed_until = $2, claimed_by = $3
FROM picked p, webhook_events ev
WHERE w.id = p.id AND ev.id = w.event_id
RETURNING w.id AS delivery_id, w.event_id, w.endpoint_id, w.organization_id, p.url, ev.payload::text AS payload,
          w.attempts, p.max_in_flight, p.secret_sealed, p.previous_secret_sealed, p.previous_secret_expires_at,
          ev.created_at AS event_created_at, ev.traceparent
"""


async def claim_due(db: Database, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Claim up to ``limit`` due deliveries for ``worker`` until ``now + lease``, at most each endpoint's
    free ``max_in_flight``. A claim that expired (its worker died) is due again."""
    if limit <= 0:
        return []
    rows = await db.fetch(_CLAIM, now, now + lease, worker, limit)
    return [as_struct(row, Claim) for row in rows]


async def take_back_claims(db: Database, worker: str, *, silent_for: float) -> int:
    """Make due again the deliveries claimed by other engine processes than ``worker`` (a dispatcher's worker
    id is its process's node id) whose heartbeat is more than ``silent_for`` seconds old by the database's
    clock: killed, their claims would otherwise wait out the request timeout and its slack. Returns how many
    were taken back."""
    result = await db.execute(
        "UPDATE webhook_deliveries d SET claimed_until = NULL, claimed_by = NULL FROM engine_nodes n"
        " WHERE d.claimed_by = n.id::text AND d.claimed_by <> $1 AND d.status = 'pending'"
        " AND n.heartbeat_at < now() - make_interval(secs => $2)", worker, silent_for)
    return row_count(result)


async def release_claims(db: Database, worker: str) -> int:
    """Make due again every delivery ``worker`` has claimed (it is known to be gone); returns how many."""
    return row_count(await db.execute(
        "UPDATE webhook_deliveries SET claimed_until = NULL, claimed_by = NULL"
        " WHERE claimed_by = $1 AND status = 'pending'", worker))


async def record_attempt(db: Database, claim: Claim, worker: str, result: AttemptResult, decision: Decision,
                         *, now: datetime) -> bool:
    """Log the attempt and apply ``decision`` to the delivery and its endpoint, in one transaction.

    Returns ``False`` if our claim had been lost (it expired and another worker took the delivery): the
    attempt is still logged, but the delivery is left to its new owner. Also ``False``, with nothing logged,
    when the delivery was deleted while we sent it (with its endpoint, or its organization).

    On failure the endpoint's failure streak starts (or goes on); past ``DISABLE_AFTER`` of it, or on
    ``disable`` (410), the endpoint is disabled, its organization's other endpoints get ``endpoint.disabled``
    and its members a notification.
    """
    body = None if result.response_body is None else result.response_body[:_RESPONSE_BODY_LIMIT]
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error,"
            " response_body) SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS"
            " (SELECT 1 FROM webhook_deliveries WHERE id = $1)",  # not the foreign key's error: it went
            claim.delivery_id, result.attempted_at, result.duration_ms, result.status_code, result.error, body)
        owned = await _apply(tx, claim, worker, result, decision, now)
        if not owned:
            return False
        if decision.action == "succeed":
            await tx.execute("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1", claim.endpoint_id)
            return True
        since = await tx.fetchval(
            "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1"
            " RETURNING failing_since", claim.endpoint_id, result.attempted_at)
        if decision.action == "disable":
            await _disable(tx, claim, f"the endpoint answered {result.status_code} Gone", now)
        elif isinstance(since, datetime) and now - since >= DISABLE_AFTER:
            await _disable(tx, claim, "every attempt failed for 5 days", now)
    return True


async def _apply(tx: Queries, claim: Claim, worker: str, result: AttemptResult, decision: Decision,
                 now: datetime) -> bool:
    done = decision.action != "retry"
    status = {"succeed": "succeeded", "retry": "pending"}.get(decision.action, "failed")
    updated = await tx.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $3, status = $4,"
        " next_attempt_at = $5, claimed_until = NULL, claimed_by = NULL, completed_at = $6"
        " WHERE id = $1 AND claimed_by = $2 AND status = 'pending'",
        claim.delivery_id, worker, result.status_code, status, now + timedelta(seconds=decision.delay),
        now if done else None)
    return row_count(updated) == 1


async def _disable(tx: Queries, claim: Claim, reason: str, now: datetime) -> None:
    disabled = await tx.execute(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()"
        " WHERE id = $1 AND enabled", claim.endpoint_id, reason)
    if row_count(disabled) == 0:
        return  # someone else disabled it first, and told everyone
    data = {"endpointId": str(claim.endpoint_id), "url": claim.url, "reason": reason}
    await enqueue_event(tx, claim.organization_id, "endpoint.disabled", data, now=now,
                        exclude_endpoint=claim.endpoint_id)
    await tx.execute(
        "INSERT INTO notifications (organization_id, type, title, data) VALUES ($1, 'endpoint.disabled', $2,"
        " $3::jsonb)", claim.organization_id, f"Webhook endpoint {claim.url} was disabled: {reason}",
        msgspec.json.encode(data).decode())


Status = Literal["pending", "succeeded", "failed"]


async def delivery_statuses(q: Queries, endpoint_id: uuid.UUID) -> Sequence[tuple[str, Status, int]]:
    """(event id, status, attempts) of each delivery to the endpoint, oldest first (for tests and tools)."""
    rows = await q.fetch("SELECT event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = $1"
                         " ORDER BY created_at, id", endpoint_id)
    return [(row["event_id"], row["status"], row["attempts"]) for row in rows]


async def pending_backlog(db: Database) -> tuple[int, float | None]:
    """The outbox's pending deliveries of every organization: how many, and the age in seconds of the
    oldest (None when there is none). Measured on the database's clock, which stamped ``created_at``; one
    pass over the partial index of pending rows."""
    row = await db.fetchrow(
        "SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest"
        " FROM webhook_deliveries WHERE status = 'pending'"
    )
    assert row is not None
    return int(row["pending"]), row["oldest"]
