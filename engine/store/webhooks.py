"""Webhook endpoints: their CRUD (scoped to an organization, secrets sealed at rest) and the management
queries behind the API (stats, the attempt log, resend, recover, rotate, a test event). The dispatcher's
side (claiming deliveries, recording attempts) is ``engine.store.webhook_deliveries``.

Every function that takes ``org_id`` filters on it in SQL, so another organization's endpoint or event
is simply not found. Times that decide what is due (``now``) are passed in by the caller, never read
from the database's clock, so a test's clock and the dispatcher's agree. Signing and sending are not
ours (``engine.webhooks``, ``actors.webhook_dispatcher``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from engine.secrets_box import seal
from engine.store.outbox import OUTBOX_CHANNEL, enqueue_event
from engine.store.rows import Queries, as_struct, row_count
from engine.webhooks.signing import generate_secret

__all__ = [
    "ROTATION_OVERLAP",
    "Attempt",
    "Delivery",
    "Endpoint",
    "EndpointStats",
    "NewEndpoint",
    "attempts_for_event",
    "create_endpoint",
    "delete_endpoint",
    "endpoint_stats",
    "get_endpoint",
    "list_endpoints",
    "recent_deliveries",
    "recover_failed",
    "resend_event",
    "rotate_secret",
    "secret_aad",
    "send_test_event",
    "update_endpoint",
]

ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret keeps signing this long


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
    secret: str | None = None  # a ``whsec_`` secret the caller chose; None: we generate one


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    attempted_at: datetime
    duration_ms: int | None
    status_code: int | None
    error: str | None
    response_body: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event's delivery to an endpoint, as its attempt log heads it."""

    event_id: str
    event_type: str
    status: str  # pending, succeeded, failed
    attempts: int
    next_attempt_at: datetime
    created_at: datetime


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


def secret_aad(org_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """The associated data an endpoint's signing secrets are sealed with (here) and opened with (by the
    deliveries' ``active_secrets``): a secret moved to another endpoint's row does not open."""
    return f"{org_id}:webhook_endpoint:{endpoint_id}:secret"


# --- endpoints ----------------------------------------------------------------------------------------


async def create_endpoint(q: Queries, key: bytes, org_id: uuid.UUID, fields: NewEndpoint) -> tuple[Endpoint, str]:
    """Insert an endpoint with the given secret or a fresh one; returns it and the secret (shown once,
    stored sealed)."""
    endpoint_id, secret = uuid.uuid4(), fields.secret or generate_secret()
    row = await q.fetchrow(
        f"INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, max_in_flight,"
        f" secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_FIELDS}",
        endpoint_id, org_id, fields.url, fields.description, fields.event_types, fields.max_in_flight,
        seal(key, secret, secret_aad(org_id, endpoint_id)))
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
        org_id, endpoint_id, expires, seal(key, secret, secret_aad(org_id, endpoint_id)))
    return (secret, expires) if row_count(status) == 1 else None


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


async def recent_deliveries(q: Queries, org_id: uuid.UUID, endpoint_id: uuid.UUID, *, limit: int) -> list[Delivery]:
    """The endpoint's ``limit`` latest deliveries, newest first (none for another organization's)."""
    rows = await q.fetch("SELECT d.event_id, ev.type AS event_type, d.status, d.attempts, d.next_attempt_at,"
                         " d.created_at FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id"
                         " WHERE d.organization_id = $1 AND d.endpoint_id = $2"
                         " ORDER BY d.created_at DESC, d.id LIMIT $3", org_id, endpoint_id, limit)
    return [as_struct(row, Delivery) for row in rows]


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
