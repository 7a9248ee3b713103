"""The webhook outbox's front door: ``enqueue_event`` records an event and one pending delivery per
subscribed, enabled endpoint of the organization, in the caller's transaction.

Whoever fires an event (the aggregator's rules, the integrations) calls it inside the same transaction
as the change that caused it, so the event exists if and only if the change committed (WEBHOOKS.md:
at-least-once from a durable outbox). The dispatcher is woken by a NOTIFY on ``OUTBOX_CHANNEL``, sent
at commit; it also polls, so a lost notification costs latency, not deliveries.

Every event for the whole organization (not a test event for one endpoint) is also NOTIFYed on
``alerts.ALERTS_CHANNEL`` as ``"<organization id>:<event id>"``, so each API process's LiveHub pushes it to
the connections subscribed to the alerts channel. An alert's event passes ``live=False``: the alert's own
NOTIFY (``alerts.insert_alerts``) already pushes it, as the alert row.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec

from engine.store.alerts import ALERTS_CHANNEL
from engine.store.rows import Queries
from engine.tracing import current_traceparent

__all__ = ["OUTBOX_CHANNEL", "enqueue_event", "enqueue_events", "get_event", "new_event_id"]

OUTBOX_CHANNEL = "webhook_outbox"


def new_event_id() -> str:
    """``evt_`` and 26 random hex characters: unique, unguessable, safe in URLs."""
    return "evt_" + secrets.token_hex(13)


async def enqueue_event(q: Queries, org_id: uuid.UUID, event_type: str, data: Mapping[str, object], *,
                        now: datetime | None = None, only_endpoint: uuid.UUID | None = None,
                        exclude_endpoint: uuid.UUID | None = None, live: bool = True) -> str:
    """Record the event ``{id, type, timestamp, data}`` and its deliveries; returns the event id.

    ``data`` must be JSON-encodable by msgspec (UUIDs and datetimes are fine). The envelope's
    ``timestamp`` is ``now`` (default: the wall clock, UTC), RFC 3339. ``only_endpoint`` delivers to that
    one endpoint of the organization whatever it subscribes to (a test event); ``exclude_endpoint`` skips
    one (``endpoint.disabled`` goes to the others). ``live`` pushes it to the live alerts channel too
    (never for ``only_endpoint``). The current trace's ``traceparent``, if any, is kept with the event, so
    that its deliveries continue the trace of what caused it.
    """
    event_id = new_event_id()
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    envelope = {"id": event_id, "type": event_type, "timestamp": stamp.isoformat().replace("+00:00", "Z"),
                "data": data}
    await q.execute("INSERT INTO webhook_events (id, organization_id, type, payload, created_at, traceparent)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5, $6)", event_id, org_id, event_type,
                    msgspec.json.encode(envelope).decode(), stamp, current_traceparent())
    await q.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, organization_id)"
        " SELECT $1, id, organization_id FROM webhook_endpoints"
        " WHERE organization_id = $2 AND enabled"
        "  AND CASE WHEN $4::uuid IS NULL THEN event_types = '{}' OR $3 = ANY (event_types) ELSE id = $4 END"
        "  AND id IS DISTINCT FROM $5::uuid",
        event_id, org_id, event_type, only_endpoint, exclude_endpoint)
    await q.execute("SELECT pg_notify($1, $2)", OUTBOX_CHANNEL, event_id)
    if live and only_endpoint is None:
        await q.execute("SELECT pg_notify($1, $2)", ALERTS_CHANNEL, f"{org_id}:{event_id}")
    return event_id


# One statement for a batch of events: each event's row, then one delivery per subscribed, enabled endpoint of
# its organization, then the dispatcher's NOTIFY per event (delivered at commit, as enqueue_event's are).
_ENQUEUE_MANY = """
WITH events AS (
    INSERT INTO webhook_events (id, organization_id, type, payload, created_at, traceparent)
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::text[])
    RETURNING id, organization_id, type
), deliveries AS (
    INSERT INTO webhook_deliveries (event_id, endpoint_id, organization_id)
    SELECT e.id, w.id, w.organization_id FROM events e
    JOIN webhook_endpoints w ON w.organization_id = e.organization_id AND w.enabled
                            AND (w.event_types = '{}' OR e.type = ANY (w.event_types))
)
SELECT count(pg_notify($7, id)) FROM events
"""


async def enqueue_events(q: Queries, events: Sequence[tuple[uuid.UUID, str, Mapping[str, object]]], *,
                         now: datetime) -> list[str]:
    """Record many organization-wide events ``(organization, type, data)`` at once, not pushed live (the
    aggregator's alerts: their own NOTIFY pushes them), in one round trip; returns their ids in order. Each
    is what ``enqueue_event(q, org, type, data, now=now, live=False)`` records."""
    if not events:
        return []
    ids = [new_event_id() for _ in events]
    stamp = now.astimezone(UTC)
    timestamp = stamp.isoformat().replace("+00:00", "Z")
    payloads = [msgspec.json.encode({"id": event_id, "type": event_type, "timestamp": timestamp, "data": data})
                .decode() for event_id, (_, event_type, data) in zip(ids, events, strict=True)]
    await q.fetchval(_ENQUEUE_MANY, ids, [org for org, _, _ in events], [kind for _, kind, _ in events], payloads,
                     [stamp] * len(ids), [current_traceparent()] * len(ids), OUTBOX_CHANNEL)
    return ids


async def get_event(q: Queries, org_id: uuid.UUID, event_id: str) -> str | None:
    """The organization's event's envelope as stored (JSON text), or ``None``."""
    payload = await q.fetchval("SELECT payload::text FROM webhook_events WHERE id = $1 AND organization_id = $2",
                               event_id, org_id)
    assert payload is None or isinstance(payload, str)
    return payload
