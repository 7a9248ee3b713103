"""The caller's own sessions (one per login): list them, end one."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from engine.store import sessions
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.pagination import ListQuery, Pagination, paginate
from http_api.routing import Access, Call, Router

__all__ = ["end_session", "sessions_router"]


class SessionOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool  # the session this request was made with


class SessionList(msgspec.Struct, frozen=True):
    sessions: list[SessionOut]
    pagination: Pagination


def sessions_router(ctx: ApiContext) -> Router:
    router = Router("sessions", ctx, tag="Auth")

    @router.route("GET", "/v1/sessions", summary="The caller's live sessions", access=Access.VIEWER,
                  query=ListQuery, response=SessionList, description="Most recently used first.")
    async def list_sessions(call: Call) -> SessionList:
        me = call.caller
        found, pagination = paginate(await sessions.list_sessions(call.db, me.organization_id, me.user_id),
                                     call.query)
        return SessionList([
            SessionOut(id=s.id, created_at=s.created_at, last_used_at=s.last_used_at, expires_at=s.expires_at,
                       user_agent=s.user_agent, ip=s.ip, current=s.id == me.session_id)
            for s in found
        ], pagination)

    @router.route("DELETE", "/v1/sessions/<uuid:session_id>", summary="End one of the caller's sessions",
                  access=Access.VIEWER, status=204)
    async def revoke(call: Call, session_id: uuid.UUID) -> None:
        await end_session(call, session_id)

    return router


async def end_session(call: Call, session_id: uuid.UUID) -> None:
    """End one of the caller's own sessions (perhaps the one calling); ApiError 404 for any other id."""
    me = call.caller
    if not await sessions.revoke_session(call.db, me.organization_id, me.user_id, session_id, "revoked"):
        raise ApiError(404, "NOT_FOUND", "no such session")
