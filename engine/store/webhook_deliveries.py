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
    "DISABLE_AFTER", "AttemptResult", "Attempted", "Claim", "OpenedSecrets", "Status", "claim_due",
    "delivery_statuses", "pending_backlog", "record_and_claim", "record_attempts", "release_claims",
    "take_back_claims",
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


class OpenedSecrets:
    """The endpoints' secrets, each opened once: ``active(claim, now)`` gives the secrets that sign an attempt
    at ``now``, the current one, then the previous one during the rotation overlap. Raises ``SealError`` when
    one does not open with ``key``.

    One entry per endpoint, holding the plaintexts of the sealed values its last claims carried. A rotation
    (docs/webhooks.md) seals a new current secret, so the first claim after it finds its current value
    unknown, drops the entry and opens again: nothing outlives a rotation but the previous secret, which the
    claim itself still carries until its overlap ends.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._opened: dict[uuid.UUID, dict[str, str]] = {}

    def active(self, claim: Claim, now: datetime) -> list[str]:
        opened = self._opened.get(claim.endpoint_id)
        if opened is None or claim.secret_sealed not in opened:
            opened = self._opened[claim.endpoint_id] = {}
        found = [self._open(opened, claim, claim.secret_sealed)]
        expires = claim.previous_secret_expires_at
        if claim.previous_secret_sealed is not None and expires is not None and now < expires:
            found.append(self._open(opened, claim, claim.previous_secret_sealed))
        return found

    def _open(self, opened: dict[str, str], claim: Claim, sealed: str) -> str:
        secret = opened.get(sealed)
        if secret is None:
            secret = opened[sealed] = open_(self._key, sealed, secret_aad(claim.organization_id, claim.endpoint_id))
        return secret


# Per enabled endpoint, its oldest due deliveries up to its free capacity (max_in_flight minus the claims
# still live), locked with SKIP LOCKED so concurrent workers take disjoint rows; then the claim is set in
# the same statement. Two workers claiming at the same instant may each see the other's claims as not yet
# committed, so an endpoint can briefly get up to twice its max_in_flight across workers; each worker still
# honours it alone. A template: ``_CLAIM`` runs it alone, ``_RECORD_AND_CLAIM`` after a batch's record, where
# ``settling`` leaves out of the live claims the batch's own (settled by the same statement, which does not
# see its own changes). ``claimed_by IS NOT NULL`` (true of every live claim) counts them in the small index
# of claims in flight, not over every pending row of the endpoint: a backlog of thousands made each claim
# scan them all. ``w.id = ANY (ARRAY(...))`` finds the picked rows by their key: planned for ``LIMIT``'s rows,
# a join on ``w.id = p.id`` alone read the whole table (every delivery ever made) while it stayed small.
_CLAIMED = """
picked AS (
    SELECT d.id, e.url, e.max_in_flight, e.secret_sealed, e.previous_secret_sealed,
           e.previous_secret_expires_at
    FROM webhook_endpoints e
    CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= {now}
          AND (d.claimed_until IS NULL OR d.claimed_until <= {now})
        ORDER BY d.next_attempt_at, d.id
        LIMIT greatest(e.max_in_flight - (
            SELECT count(*) FROM webhook_deliveries b
            WHERE b.claimed_by IS NOT NULL AND b.endpoint_id = e.id AND b.status = 'pending'
              AND b.claimed_until > {now}{settling}), 0)
        FOR UPDATE OF d SKIP LOCKED
    ) d
    WHERE e.enabled
    LIMIT {limit}
), claimed AS (
    UPDATE webhook_deliveries w SET claimed_until = {until}, claimed_by = {worker}
    FROM picked p, webhook_events ev
    WHERE w.id = ANY (ARRAY(SELECT id FROM picked)) AND w.id = p.id AND ev.id = w.event_id
    RETURNING w.id AS delivery_id, w.event_id, w.endpoint_id, w.organization_id, p.url,
              ev.payload::text AS payload, w.attempts, p.max_in_flight, p.secret_sealed, p.previous_secret_sealed,
              p.previous_secret_expires_at, ev.created_at AS event_created_at, ev.traceparent
)"""
_CLAIM = ("WITH" + _CLAIMED.format(now="$1", until="$2", worker="$3", limit="$4", settling="")
          + "\nSELECT * FROM claimed")


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


class Attempted(msgspec.Struct, frozen=True):
    """One finished attempt to record: the claim it was made under, what it got, and what follows."""

    claim: Claim
    result: AttemptResult
    decision: Decision


# Every attempt of a batch logged and applied to its delivery in one statement (the deliveries deleted meanwhile
# log nothing: not the foreign key's error); returns the deliveries we still owned. An endpoint whose attempts
# in the batch all succeeded ends its failure streak here, writing its row only if a streak was on (``NOT IN
# $12``: the endpoints with another outcome in the batch, which ``record_attempts`` follows one by one).
_RECORDED = """
WITH r AS (
    SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[],
                         $9::timestamptz[], $10::boolean[])
        AS r (delivery_id, attempted_at, duration_ms, status_code, error, response_body, status, next_attempt_at,
              done)
), logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error, response_body)
    SELECT r.delivery_id, r.attempted_at, r.duration_ms, r.status_code, r.error, r.response_body FROM r
    WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = r.delivery_id)
), settled AS (
    UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_status_code = r.status_code, status = r.status,
        next_attempt_at = r.next_attempt_at, claimed_until = NULL, claimed_by = NULL,
        completed_at = CASE WHEN r.done THEN $11::timestamptz END
    FROM r WHERE d.id = r.delivery_id AND d.claimed_by = $1 AND d.status = 'pending'
    RETURNING d.id, d.endpoint_id, d.status
), healed AS (
    UPDATE webhook_endpoints e SET failing_since = NULL
    WHERE e.id IN (SELECT endpoint_id FROM settled WHERE status = 'succeeded') AND e.id <> ALL ($12::uuid[])
      AND e.failing_since IS NOT NULL
)"""
_RECORD = _RECORDED + "\nSELECT id FROM settled"
# The same, then the next claims until $13, at most $14, in the same round trip: one row, the claims' columns
# NULL, when nothing was due.
_RECORD_AND_CLAIM = (
    _RECORDED + ","
    + _CLAIMED.format(now="$11", until="$13", worker="$1", limit="$14",
                      settling=" AND NOT (b.claimed_by = $1 AND b.id = ANY ($2::uuid[]))")
    + "\nSELECT s.owned, c.* FROM (SELECT array(SELECT id FROM settled) AS owned) s LEFT JOIN claimed c ON true")


async def record_attempts(db: Database, worker: str, attempts: Sequence[Attempted], *,
                          now: datetime) -> set[uuid.UUID]:
    """Log each attempt and apply its decision to its delivery and its endpoint, atomically; returns the
    deliveries whose claim we still held.

    A delivery missing from the answer had lost our claim (it expired and another worker took it): its
    attempt is still logged, but the delivery is left to its new owner. A delivery deleted while we sent it
    (with its endpoint, or its organization) logs nothing.

    A success ends its endpoint's failure streak (``failing_since``), and writes the endpoint's row only then:
    a healthy endpoint's row is never written, so concurrent batches never queue on it. A failure starts the
    streak (or continues it); past ``DISABLE_AFTER`` of it, or on ``disable`` (410), the endpoint is disabled,
    its organization's other endpoints get ``endpoint.disabled`` and its members a notification. An endpoint
    with anything but successes in the batch has its attempts followed one by one, in the order they were made.
    """
    if not attempts:
        return set()
    troubled = {a.claim.endpoint_id for a in attempts if a.decision.action != "succeed"}
    if not troubled:  # one statement, a transaction of its own
        return await _record(db, worker, attempts, troubled, now)
    async with db.transaction() as tx:
        owned = await _record(tx, worker, attempts, troubled, now)
        for attempt in sorted(attempts, key=lambda a: a.result.attempted_at):
            if attempt.claim.endpoint_id in troubled and attempt.claim.delivery_id in owned:
                await _follow_streak(tx, attempt, now)
    return owned


async def record_and_claim(db: Database, worker: str, attempts: Sequence[Attempted], *, now: datetime,
                           lease: timedelta, limit: int) -> tuple[set[uuid.UUID], list[Claim]]:
    """``record_attempts``, then ``claim_due`` (the slots the batch freed count as free): in one round trip
    and one transaction when every attempt of the batch succeeded, else one after the other. Returns the
    deliveries whose claim we still held, and the new claims."""
    if not attempts or any(a.decision.action != "succeed" for a in attempts):
        owned = await record_attempts(db, worker, attempts, now=now)
        return owned, await claim_due(db, worker, now=now, lease=lease, limit=limit)
    rows = await db.fetch(_RECORD_AND_CLAIM, *_record_args(worker, attempts, set(), now), now + lease, limit)
    claims = [as_struct(row, Claim) for row in rows if row["delivery_id"] is not None]
    return set(rows[0]["owned"]), claims


async def _record(q: Queries, worker: str, attempts: Sequence[Attempted], troubled: set[uuid.UUID],
                  now: datetime) -> set[uuid.UUID]:
    rows = await q.fetch(_RECORD, *_record_args(worker, attempts, troubled, now))
    return {row["id"] for row in rows}


def _record_args(worker: str, attempts: Sequence[Attempted], troubled: set[uuid.UUID],
                 now: datetime) -> tuple[object, ...]:
    """``_RECORDED``'s parameters, $1 to $12."""
    results = [a.result for a in attempts]
    return (worker, [a.claim.delivery_id for a in attempts], [r.attempted_at for r in results],
            [r.duration_ms for r in results], [r.status_code for r in results], [r.error for r in results],
            [None if r.response_body is None else r.response_body[:_RESPONSE_BODY_LIMIT] for r in results],
            [_STATUS.get(a.decision.action, "failed") for a in attempts],
            [now + timedelta(seconds=a.decision.delay) for a in attempts],
            [a.decision.action != "retry" for a in attempts], now, list(troubled))


_STATUS = {"succeed": "succeeded", "retry": "pending"}  # a delivery's status after its attempt's decision


async def _follow_streak(tx: Queries, attempt: Attempted, now: datetime) -> None:
    claim, result, decision = attempt.claim, attempt.result, attempt.decision
    if decision.action == "succeed":
        await tx.execute("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1"
                         " AND failing_since IS NOT NULL", claim.endpoint_id)
        return
    since = await tx.fetchval(
        "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1"
        " RETURNING failing_since", claim.endpoint_id, result.attempted_at)
    if decision.action == "disable":
        await _disable(tx, claim, f"the endpoint answered {result.status_code} Gone", now)
    elif isinstance(since, datetime) and now - since >= DISABLE_AFTER:
        await _disable(tx, claim, "every attempt failed for 5 days", now)


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
