"""Webhook endpoints and their deliveries: the endpoints' CRUD (scoped to an organization, secrets sealed
at rest), the dispatcher's claim and the recording of each attempt, and the management queries behind
the API (stats, the attempt log, resend, recover, rotate).

Every function that takes ``org_id`` filters on it in SQL, so another organization's endpoint or event
is simply not found. Times that decide what is due (``now``) are passed in by the caller, never read
from the database's clock, so a test's clock and the dispatcher's agree. Signing and sending are not
ours (``engine.webhooks``, ``actors.webhook_dispatcher``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from engine.secrets_box import open_, seal
from engine.store._rows import Queries, as_struct, row_count
from engine.store.database import Database
from engine.store.outbox import OUTBOX_CHANNEL, enqueue_event
from engine.webhooks.schedule import Decision
from engine.webhooks.signing import generate_secret

__all__ = [
    "DISABLE_AFTER",
    "ROTATION_OVERLAP",
    "Attempt",
    "AttemptResult",
    "Claim",
    "Endpoint",
    "EndpointStats",
    "NewEndpoint",
    "active_secrets",
    "attempts_for_event",
    "claim_due",
    "create_endpoint",
    "delete_endpoint",
    "delivery_statuses",
    "endpoint_stats",
    "get_endpoint",
    "list_endpoints",
    "record_attempt",
    "recover_failed",
    "resend_event",
    "rotate_secret",
    "send_test_event",
    "update_endpoint",
]

ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret keeps signing this long
DISABLE_AFTER = timedelta(days=5)  # of nothing but failures
_RESPONSE_BODY_LIMIT = 4096


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    max_in_flight: int
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class NewEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    description: str | None = None
    event_types: list[str] = []
    max_in_flight: int = 4


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


class AttemptResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt got: a status code or an error, how long it took, the start of the answer."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    attempted_at: datetime
    duration_ms: int | None
    status_code: int | None
    error: str | None
    response_body: str | None


class EndpointStats(msgspec.Struct, frozen=True, kw_only=True):
    pending: int
    succeeded: int
    failed: int
    attempts: int
    average_duration_ms: float | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


_FIELDS = ("id, url, description, event_types, enabled, disabled_reason, max_in_flight, failing_since,"
           " previous_secret_expires_at, created_at, updated_at")


def _aad(org_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    return f"{org_id}:webhook_endpoint:{endpoint_id}:secret"


def active_secrets(key: bytes, claim: Claim, now: datetime) -> list[str]:
    """The secrets that sign an attempt at ``now``: the current one, then the previous one during the
    rotation overlap."""
    aad = _aad(claim.organization_id, claim.endpoint_id)
    found = [open_(key, claim.secret_sealed, aad)]
    expires = claim.previous_secret_expires_at
    if claim.previous_secret_sealed is not None and expires is not None and now < expires:
        found.append(open_(key, claim.previous_secret_sealed, aad))
    return found


# --- endpoints ----------------------------------------------------------------------------------------


async def create_endpoint(q: Queries, key: bytes, org_id: uuid.UUID, fields: NewEndpoint) -> tuple[Endpoint, str]:
    """Insert an endpoint with a fresh secret; returns it and the secret (shown once, stored sealed)."""
    endpoint_id, secret = uuid.uuid4(), generate_secret()
    row = await q.fetchrow(
        f"INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, max_in_flight,"
        f" secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_FIELDS}",
        endpoint_id, org_id, fields.url, fields.description, fields.event_types, fields.max_in_flight,
        seal(key, secret, _aad(org_id, endpoint_id)))
    assert row is not None
    return as_struct(row, Endpoint), secret


async def list_endpoints(q: Queries, org_id: uuid.UUID) -> list[Endpoint]:
    rows = await q.fetch(f"SELECT {_FIELDS} FROM webhook_endpoints WHERE organization_id = $1"
                         " ORDER BY created_at, id", org_id)
    return [as_struct(row, Endpoint) for row in rows]


async def get_endpoint(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> Endpoint | None:
    row = await q.fetchrow(f"SELECT {_FIELDS} FROM webhook_endpoints WHERE organization_id = $1 AND id = $2",
                           org_id, endpoint_id)
    return None if row is None else as_struct(row, Endpoint)


_UPDATABLE = {"url", "description", "event_types", "max_in_flight", "enabled"}


async def update_endpoint(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                          changes: dict[str, object]) -> Endpoint | None:
    """Set the given fields (keys of ``_UPDATABLE``). Enabling clears the disabled reason and the failure
    streak; the deliveries that failed meanwhile are recovered only on request (``recover_failed``)."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(changes)
    sets = [f"{name} = ${n}" for n, name in enumerate(names, start=3)]
    if changes.get("enabled") is True:
        sets += ["disabled_reason = NULL", "failing_since = NULL"]
    elif changes.get("enabled") is False:
        sets.append("disabled_reason = 'disabled by a member'")
    row = await q.fetchrow(
        f"UPDATE webhook_endpoints SET {', '.join([*sets, 'updated_at = now()'])}"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {_FIELDS}",
        org_id, endpoint_id, *(changes[name] for name in names))
    return None if row is None else as_struct(row, Endpoint)


async def delete_endpoint(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    """Delete an endpoint with its deliveries and attempt log (the events stay for the others)."""
    status = await q.execute("DELETE FROM webhook_endpoints WHERE organization_id = $1 AND id = $2",
                             org_id, endpoint_id)
    return row_count(status) == 1


async def rotate_secret(q: Queries, key: bytes, org_id: uuid.UUID, endpoint_id: uuid.UUID, *,
                        now: datetime) -> tuple[str, datetime] | None:
    """A new secret for the endpoint; the current one keeps signing until the returned expiry (24 h).
    Returns ``None`` when there is no such endpoint."""
    secret, expires = generate_secret(), now + ROTATION_OVERLAP
    status = await q.execute(
        "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed,"
        " previous_secret_expires_at = $3, secret_sealed = $4, updated_at = now()"
        " WHERE organization_id = $1 AND id = $2",
        org_id, endpoint_id, expires, seal(key, secret, _aad(org_id, endpoint_id)))
    return (secret, expires) if row_count(status) == 1 else None


# --- the dispatcher's side ----------------------------------------------------------------------------

# Per enabled endpoint, its oldest due deliveries up to its free capacity (max_in_flight minus the claims
# still live), locked with SKIP LOCKED so concurrent workers take disjoint rows; then the claim is set in
# the same statement. Two workers claiming at the same instant may each see the other's claims as not yet
# committed, so an endpoint can briefly get up to twice its max_in_flight across workers; each worker still
# honours it alone.
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
          w.attempts, p.max_in_flight, p.secret_sealed, p.previous_secret_sealed, p.previous_secret_expires_at
"""


async def claim_due(db: Database, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Claim up to ``limit`` due deliveries for ``worker`` until ``now + lease``, at most each endpoint's
    free ``max_in_flight``. A claim that expired (its worker died) is due again."""
    if limit <= 0:
        return []
    rows = await db.fetch(_CLAIM, now, now + lease, worker, limit)
    return [as_struct(row, Claim) for row in rows]


async def record_attempt(db: Database, claim: Claim, worker: str, result: AttemptResult, decision: Decision,
                         *, now: datetime) -> bool:
    """Log the attempt and apply ``decision`` to the delivery and its endpoint, in one transaction.

    Returns ``False`` if our claim had been lost (it expired and another worker took the delivery): the
    attempt is still logged, but the delivery is left to its new owner. On failure the endpoint's failure
    streak starts (or goes on); past ``DISABLE_AFTER`` of it, or on ``disable`` (410), the endpoint is
    disabled, its organization's other endpoints get ``endpoint.disabled`` and its members a notification.
    """
    body = None if result.response_body is None else result.response_body[:_RESPONSE_BODY_LIMIT]
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error,"
            " response_body) VALUES ($1, $2, $3, $4, $5, $6)",
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


# --- management ---------------------------------------------------------------------------------------


async def endpoint_stats(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> EndpointStats | None:
    row = await q.fetchrow(
        "SELECT count(*) FILTER (WHERE d.status = 'pending') AS pending,"
        " count(*) FILTER (WHERE d.status = 'succeeded') AS succeeded,"
        " count(*) FILTER (WHERE d.status = 'failed') AS failed,"
        " (SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries x ON x.id = a.delivery_id"
        "   WHERE x.endpoint_id = e.id) AS attempts,"
        " (SELECT avg(a.duration_ms)::float8 FROM webhook_attempts a JOIN webhook_deliveries x"
        "   ON x.id = a.delivery_id WHERE x.endpoint_id = e.id) AS average_duration_ms,"
        " (SELECT max(a.attempted_at) FROM webhook_attempts a JOIN webhook_deliveries x ON x.id = a.delivery_id"
        "   WHERE x.endpoint_id = e.id AND a.status_code BETWEEN 200 AND 299) AS last_success_at,"
        " (SELECT max(a.attempted_at) FROM webhook_attempts a JOIN webhook_deliveries x ON x.id = a.delivery_id"
        "   WHERE x.endpoint_id = e.id AND (a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299))"
        " AS last_failure_at"
        " FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id"
        " WHERE e.organization_id = $1 AND e.id = $2 GROUP BY e.id", org_id, endpoint_id)
    return None if row is None else as_struct(row, EndpointStats)


async def attempts_for_event(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                             event_id: str) -> list[Attempt] | None:
    """The attempts to deliver ``event_id`` to the endpoint, oldest first; ``None`` when the endpoint
    never had that event (or either belongs to another organization)."""
    delivery = await q.fetchval("SELECT id FROM webhook_deliveries WHERE organization_id = $1"
                                " AND endpoint_id = $2 AND event_id = $3", org_id, endpoint_id, event_id)
    if delivery is None:
        return None
    rows = await q.fetch("SELECT id, attempted_at, duration_ms, status_code, error, response_body"
                         " FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempted_at, id", delivery)
    return [as_struct(row, Attempt) for row in rows]


_REQUEUE = ("status = 'pending', attempts = 0, next_attempt_at = {now}, claimed_until = NULL, claimed_by = NULL,"
            " completed_at = NULL")


async def resend_event(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID, event_id: str, *,
                       now: datetime) -> bool:
    """Deliver one event of the organization to the endpoint again, with the same id and a fresh retry
    schedule (whether or not it was delivered before). ``False`` when the event or endpoint is not found.
    A delivery that is in flight right now is left alone: it is already being sent."""
    status = await q.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, organization_id, next_attempt_at)"
        " SELECT ev.id, e.id, e.organization_id, $4 FROM webhook_events ev JOIN webhook_endpoints e"
        "  ON e.organization_id = ev.organization_id"
        " WHERE ev.organization_id = $1 AND e.id = $2 AND ev.id = $3"
        f" ON CONFLICT (event_id, endpoint_id) DO UPDATE SET {_REQUEUE.format(now='$4')}"
        "  WHERE webhook_deliveries.claimed_until IS NULL OR webhook_deliveries.claimed_until <= $4",
        org_id, endpoint_id, event_id, now)
    found = row_count(status) == 1 or await q.fetchval(
        "SELECT true FROM webhook_deliveries WHERE organization_id = $1 AND endpoint_id = $2 AND event_id = $3",
        org_id, endpoint_id, event_id) is not None
    if found:
        await q.execute("SELECT pg_notify($1, $2)", OUTBOX_CHANNEL, event_id)
    return found


async def recover_failed(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID, *, since: datetime,
                         now: datetime) -> int | None:
    """Queue again every delivery to the endpoint that failed for good and was created since ``since``;
    returns how many (``None`` when there is no such endpoint)."""
    if await get_endpoint(q, org_id, endpoint_id) is None:
        return None
    status = await q.execute(
        f"UPDATE webhook_deliveries SET {_REQUEUE.format(now='$4')}"
        " WHERE organization_id = $1 AND endpoint_id = $2 AND status = 'failed' AND created_at >= $3",
        org_id, endpoint_id, since, now)
    count = row_count(status)
    if count:
        await q.execute("SELECT pg_notify($1, $2)", OUTBOX_CHANNEL, "recover")
    return count


async def send_test_event(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID, *,
                          now: datetime) -> str | None:
    """Enqueue a ``webhook.test`` event for this endpoint alone; its id, or ``None`` when not found."""
    endpoint = await get_endpoint(q, org_id, endpoint_id)
    if endpoint is None:
        return None
    data = {"endpointId": str(endpoint_id), "message": "This is a test event from SongTrackPro."}
    return await enqueue_event(q, org_id, "webhook.test", data, now=now, only_endpoint=endpoint_id)


Status = Literal["pending", "succeeded", "failed"]


async def delivery_statuses(q: Queries, endpoint_id: uuid.UUID) -> Sequence[tuple[str, Status, int]]:
    """(event id, status, attempts) of each delivery to the endpoint, oldest first (for tests and tools)."""
    rows = await q.fetch("SELECT event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = $1"
                         " ORDER BY created_at, id", endpoint_id)
    return [(row["event_id"], row["status"], row["attempts"]) for row in rows]
