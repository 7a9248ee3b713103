"""`/v1/alerts` and `/v1/notifications`: what the aggregator's rules fired, and the notifications people
read, for the caller's organization only.

Notifications belong to the organization, not to one member: marking one read marks it read for every
member, which is why a viewer may do it (it changes nothing but the read mark). We fire nothing here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from engine.store import alerts as store
from http_api.context import ApiContext
from http_api.errors import not_found
from http_api.pagination import ListQuery, Pagination
from http_api.routing import Access, Call, Router

__all__ = [
    "AlertList",
    "AlertQuery",
    "NotificationList",
    "NotificationQuery",
    "ReadAll",
    "alerts_router",
]

AlertType = Literal["budget.warning", "budget.pacing", "goal.reached", "campaign.completed", "metrics.updated"]


class AlertQuery(ListQuery, kw_only=True, rename="camel"):
    """A page of alerts, newest first; ``type`` and ``campaignId`` narrow it."""

    type: AlertType | UnsetType = UNSET
    campaign_id: uuid.UUID | UnsetType = UNSET


class AlertList(msgspec.Struct, frozen=True, kw_only=True):
    alerts: list[store.Alert]
    pagination: Pagination


class NotificationQuery(ListQuery, kw_only=True):
    """A page of notifications, newest first; ``unread=true`` keeps the unread ones."""

    unread: bool = False


class NotificationList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``unreadCount`` counts every unread notification of the organization, whatever the page."""

    notifications: list[store.Notification]
    unread_count: int
    pagination: Pagination


class ReadAll(msgspec.Struct, frozen=True, kw_only=True):
    """How many notifications were unread and are now read."""

    marked: int


def _now(call: Call) -> datetime:
    return call.ctx.domain_now()


def alerts_router(ctx: ApiContext) -> Router:
    router = Router("alerts", ctx, tag="Alerts")

    @router.route("GET", "/v1/alerts", summary="List alerts", access=Access.VIEWER, query=AlertQuery,
                  response=AlertList,
                  description="What the engine's rules fired: budget warnings and pacing, goals reached, completed"
                              " campaigns and metric updates; each at most once per its dedupe key.")
    async def list_alerts(call: Call) -> AlertList:
        query: AlertQuery = call.query
        page = await store.list_alerts(
            call.db, call.caller.organization_id, type=None if isinstance(query.type, UnsetType) else query.type,
            campaign_id=None if isinstance(query.campaign_id, UnsetType) else query.campaign_id,
            limit=query.limit, offset=query.offset)  # fmt: skip
        return AlertList(alerts=page.items, pagination=Pagination.of(page))

    @router.route("GET", "/v1/notifications", summary="List notifications", access=Access.VIEWER,
                  query=NotificationQuery, response=NotificationList)
    async def list_notifications(call: Call) -> NotificationList:
        query: NotificationQuery = call.query
        org = call.caller.organization_id
        page = await store.list_notifications(call.db, org, unread=query.unread, limit=query.limit,
                                              offset=query.offset)
        unread = page.total if query.unread else await store.unread_count(call.db, org)
        return NotificationList(notifications=page.items, unread_count=unread, pagination=Pagination.of(page))

    @router.route("POST", "/v1/notifications/<uuid:notification_id>/read", summary="Mark a notification read",
                  access=Access.VIEWER, response=store.Notification,
                  description="Read marks are the organization's: every member sees it read. Marking a read"
                              " notification again keeps its first read time.")
    async def mark_read(call: Call, notification_id: uuid.UUID) -> store.Notification:
        notification = await store.mark_read(call.db, call.caller.organization_id, notification_id,
                                             now=_now(call))
        if notification is None:
            raise not_found("notification")
        return notification

    @router.route("POST", "/v1/notifications/read-all", summary="Mark every notification read",
                  access=Access.VIEWER, response=ReadAll)
    async def mark_all_read(call: Call) -> ReadAll:
        return ReadAll(marked=await store.mark_all_read(call.db, call.caller.organization_id, now=_now(call)))

    return router
