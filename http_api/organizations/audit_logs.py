"""``GET /v1/audit-logs``: the organization's audit log (docs/audit-log.md) for its admins and owners, newest
first, with filters and paging. Read only: the database's triggers write it (``engine.store.audit_log``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.store import audit_log
from engine.store.catalog_common import Page
from http_api.context import ApiContext
from http_api.fields import Instant, instant_of
from http_api.pagination import ListQuery, Pagination
from http_api.routing import Access, Call, Router

__all__ = ["AuditLogList", "AuditLogQuery", "audit_filter", "audit_logs_router", "read_audit_log"]

T = TypeVar("T")
_Text = Annotated[str, Meta(min_length=1, max_length=200)]


class AuditLogQuery(ListQuery, kw_only=True, rename="camel"):
    """A page of the audit log; each filter given narrows it: ``actorId`` (the user who acted), ``action``
    (``campaign.updated``), ``objectType`` (``campaign``), ``objectId``, and ``from`` (inclusive) to ``to``
    (exclusive) on when it happened."""

    actor_id: uuid.UUID | UnsetType = UNSET
    action: _Text | UnsetType = UNSET
    object_type: _Text | UnsetType = UNSET
    object_id: _Text | UnsetType = UNSET
    from_: Instant | UnsetType = msgspec.field(default=UNSET, name="from")
    to: Instant | UnsetType = UNSET


class AuditLogList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    audit_logs: list[audit_log.Entry]
    pagination: Pagination


def audit_filter(query: AuditLogQuery) -> audit_log.AuditFilter:
    """The store's filter for the query's fields that were given."""
    return audit_log.AuditFilter(actor_user_id=_given(query.actor_id), action=_given(query.action),
                                 object_type=_given(query.object_type), object_id=_given(query.object_id),
                                 since=_instant(query.from_), until=_instant(query.to))


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


def _instant(value: str | UnsetType) -> datetime | None:
    return None if isinstance(value, UnsetType) else instant_of(value)


def audit_logs_router(ctx: ApiContext) -> Router:
    router = Router("audit_logs", ctx, tag="Organization")

    @router.route("GET", "/v1/audit-logs", summary="List the audit log", access=Access.ADMIN,
                  query=AuditLogQuery, response=AuditLogList,
                  description="Every change a member, a rule or the budget guardrail made in the organization,"
                              " newest first: who (`actorType` user, rule, system or anonymous; `actorUserId`,"
                              " `actorRuleId`, `actorLabel`), the `action` (`<object>.created|updated|deleted`),"
                              " the object (`objectType`, `objectId`), the changed fields `before` and `after`"
                              " (secrets as `\"***\"`), the client's `ip`, its `requestId`, and the `source`"
                              " (the route template, the console form, `rule` or `guardrail`).")
    async def list_audit_logs(call: Call) -> AuditLogList:
        page = await read_audit_log(call, call.query)
        return AuditLogList(audit_logs=page.items, pagination=Pagination.of(page))

    return router


async def read_audit_log(call: Call, query: AuditLogQuery) -> Page[audit_log.Entry]:
    """The page of the caller's organization's audit log that ``query`` asks for (the route and the console's
    page)."""
    return await audit_log.list_entries(call.db, call.caller.organization_id, audit_filter(query),
                                        limit=query.limit, offset=query.offset)
