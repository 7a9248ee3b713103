"""Who is calling: a Bearer access token whose signature and expiry check out
AND whose session is still live in the database (so logout, logout-all, a
revoked session and a refresh-token reuse take effect on the next request).
The role comes from the database, not the token, so a demotion is immediate.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from engine.store.database import Database
from engine.store.sessions import check_session
from http_api.context import ApiContext
from http_api.errors import ApiError

__all__ = ["Principal", "authenticate"]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    tier: str
    email: str = ""  # the audit log's label for the caller
    # The rest of the profile, read by the same statement as the session (``check_session``).
    email_verified: bool = False
    name: str = ""
    created_at: datetime | None = None
    organization_name: str = ""


async def authenticate(ctx: ApiContext, db: Database, authorization: str | None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        error = ApiError(401, "AUTHENTICATION_ERROR", "missing Bearer token in the Authorization header")
        error.headers["WWW-Authenticate"] = "Bearer"
        raise error
    claims = ctx.tokens.verify(token.strip())
    session = await check_session(db, claims.sid, claims.sub)
    if session is None or not session.live:
        error = ApiError(401, "AUTHENTICATION_ERROR", "the session has ended; log in again")
        error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        raise error
    return Principal(
        user_id=claims.sub, organization_id=session.organization_id, role=session.role,
        session_id=claims.sid, tier=session.tier, email=session.email, email_verified=session.email_verified,
        name=session.name, created_at=session.created_at, organization_name=session.organization_name,
    )
