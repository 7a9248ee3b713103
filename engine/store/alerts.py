"""Alerts and notifications: inserting what the rules fired (deduplicated by key) and the org-scoped reads
and read marks the API needs.

An alert is fired at most once per (organization, dedupe key): ``insert_alerts`` returns only the rows it
really inserted, so the caller notifies and enqueues webhooks for those alone. Notifications belong to the
organization, not to a member: marking one read marks it read for every member. We decide nothing about
which alerts fire (``engine.alert_rules``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.store.catalog_common import Executor, Page, Where, check_window, count_rows, encode_json, fetch_page, page

__all__ = [
    "ALERTS_CHANNEL",
    "Alert",
    "NewAlert",
    "Notification",
    "get_alert",
    "insert_alerts",
    "insert_notification",
    "insert_notifications",
    "list_alerts",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "unread_count",
]

ALERTS_CHANNEL = "alerts"  # NOTIFYed "<organization id>:<alert id>" for each alert inserted

# An alert's data is free-form JSON (each type has its own keys). ``Any`` rather than ``object``: the OpenAPI
# document is generated from these Structs, and msgspec cannot describe ``object``.
JsonObject = dict[str, Annotated[Any, Meta(description="Any JSON value")]]
_data = msgspec.json.Decoder(dict[str, object])


class NewAlert(msgspec.Struct, frozen=True, kw_only=True):
    organization_id: uuid.UUID
    campaign_id: uuid.UUID | None
    type: str
    dedupe_key: str
    title: str
    data: dict[str, object]


class Alert(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    organization_id: uuid.UUID
    campaign_id: uuid.UUID | None
    type: str
    dedupe_key: str
    data: JsonObject
    fired_at: datetime


class Notification(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    alert_id: uuid.UUID | None
    type: str
    title: str
    data: JsonObject
    created_at: datetime
    read_at: datetime | None


_ALERT_FIELDS = "id, organization_id, campaign_id, type, dedupe_key, data::text AS data, fired_at"
_NOTIFICATION_FIELDS = "id, alert_id, type, title, data::text AS data, created_at, read_at"


def _alert(row: object) -> Alert:
    values = dict(row)  # type: ignore[call-overload]
    return Alert(**{**values, "data": _data.decode(values["data"])})


def _notification(row: object) -> Notification:
    values = dict(row)  # type: ignore[call-overload]
    return Notification(**{**values, "data": _data.decode(values["data"])})


async def insert_alerts(q: Executor, alerts: Sequence[NewAlert], *, fired_at: datetime) -> list[Alert]:
    """Insert ``alerts`` in one statement; those whose (organization, dedupe key) exists are skipped.

    Returns the inserted alerts, in the order given. Two alerts with the same key in ``alerts``: the
    first wins.
    """
    if not alerts:
        return []
    rows = await q.fetch(
        "INSERT INTO alerts (organization_id, campaign_id, type, dedupe_key, data, fired_at)"
        " SELECT o, c, t, k, d::jsonb, $6 FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])"
        " WITH ORDINALITY AS a (o, c, t, k, d, n) ORDER BY n"
        f" ON CONFLICT (organization_id, dedupe_key) DO NOTHING RETURNING {_ALERT_FIELDS}",
        [a.organization_id for a in alerts], [a.campaign_id for a in alerts], [a.type for a in alerts],
        [a.dedupe_key for a in alerts], [encode_json(a.data) for a in alerts], fired_at,
    )  # fmt: skip
    order = {(a.organization_id, a.dedupe_key): i for i, a in reversed(list(enumerate(alerts)))}
    inserted = sorted([_alert(row) for row in rows], key=lambda a: order[(a.organization_id, a.dedupe_key)])
    for alert in inserted:  # in the caller's transaction: delivered at commit, to every API process's LiveHub
        await q.execute("SELECT pg_notify($1, $2)", ALERTS_CHANNEL, f"{alert.organization_id}:{alert.id}")
    return inserted


async def get_alert(q: Executor, org_id: uuid.UUID, alert_id: uuid.UUID) -> Alert | None:
    row = await q.fetchrow(f"SELECT {_ALERT_FIELDS} FROM alerts WHERE id = $1 AND organization_id = $2",
                           alert_id, org_id)
    return None if row is None else _alert(row)


async def insert_notifications(q: Executor, items: Sequence[tuple[Alert, str]], *,
                               created_at: datetime) -> None:
    """One notification per (alert, title), for the alert's organization."""
    if not items:
        return
    await q.execute(
        "INSERT INTO notifications (organization_id, alert_id, type, title, data, created_at)"
        " SELECT o, a, t, ti, d::jsonb, $6 FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])"
        " AS x (o, a, t, ti, d)",
        [a.organization_id for a, _ in items], [a.id for a, _ in items], [a.type for a, _ in items],
        [title for _, title in items], [encode_json(a.data) for a, _ in items], created_at,
    )  # fmt: skip


async def insert_notification(q: Executor, org_id: uuid.UUID, *, type: str, title: str,
                              data: Mapping[str, object], created_at: datetime) -> None:
    """A notification of no alert (a rule's ``send_alert``)."""
    await q.execute("INSERT INTO notifications (organization_id, type, title, data, created_at)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5)", org_id, type, title, encode_json(data), created_at)


async def list_alerts(q: Executor, org_id: uuid.UUID, *, type: str | None = None,
                      campaign_id: uuid.UUID | None = None, limit: int = 20, offset: int = 0) -> Page[Alert]:
    """The organization's alerts, newest first (``id`` breaks ties), optionally of one type or campaign."""
    where = Where(org_id)
    where.add("organization_id = $1")
    where.equal("type", type)
    where.equal("campaign_id", campaign_id)
    return await fetch_page(q, "alerts", _ALERT_FIELDS, where, "fired_at DESC, id DESC", limit=limit, offset=offset,
                            row=_alert)


async def list_notifications(q: Executor, org_id: uuid.UUID, *, unread: bool = False, limit: int = 20,
                             offset: int = 0) -> Page[Notification]:
    """The organization's notifications, newest first; only the unread ones when ``unread``."""
    check_window(limit, offset)
    condition = "organization_id = $1" + (" AND read_at IS NULL" if unread else "")
    total = await count_rows(q, f"SELECT count(*) FROM notifications WHERE {condition}", org_id)
    rows = await q.fetch(
        f"SELECT {_NOTIFICATION_FIELDS} FROM notifications WHERE {condition}"
        " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3", org_id, limit, offset)
    return page([_notification(row) for row in rows], total, limit, offset)


async def unread_count(q: Executor, org_id: uuid.UUID) -> int:
    return await count_rows(q, "SELECT count(*) FROM notifications WHERE organization_id = $1"
                               " AND read_at IS NULL", org_id)


async def mark_read(q: Executor, org_id: uuid.UUID, notification_id: uuid.UUID, *,
                    now: datetime) -> Notification | None:
    """Mark one notification read (keeping the first read time); ``None`` if the organization has no such
    notification."""
    row = await q.fetchrow(
        f"UPDATE notifications SET read_at = COALESCE(read_at, $3) WHERE organization_id = $1 AND id = $2"
        f" RETURNING {_NOTIFICATION_FIELDS}", org_id, notification_id, now)
    return None if row is None else _notification(row)


async def mark_all_read(q: Executor, org_id: uuid.UUID, *, now: datetime) -> int:
    """Mark every unread notification of the organization read; returns how many were unread."""
    status = await q.execute("UPDATE notifications SET read_at = $2 WHERE organization_id = $1"
                             " AND read_at IS NULL", org_id, now)
    return int(status.rsplit(" ", 1)[1])
