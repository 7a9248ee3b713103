"""What the auth routes and the console's sign-in share: the user and token shapes they answer with, the
email-and-password check, how a login becomes a session (plus tokens, for the API).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from quart import request

from engine.passwords import burn_verify, verify_password
from engine.store import accounts, sessions
from http_api.errors import ApiError
from http_api.routing import Call

__all__ = ["AuthResult", "TokenPair", "UserOut", "check_password", "create_login_session", "open_session",
           "user_out"]

_BAD_LOGIN = "invalid email or password"


class UserOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    email: str
    name: str
    role: str
    organization_id: uuid.UUID
    email_verified: bool
    created_at: datetime


class TokenPair(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int  # seconds until the access token expires


class AuthResult(msgspec.Struct, frozen=True, kw_only=True):
    user: UserOut
    tokens: TokenPair


def user_out(user: accounts.User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role,
                   organization_id=user.organization_id, email_verified=user.email_verified,
                   created_at=user.created_at)


def tokens_for(call: Call, user: accounts.User, session_id: uuid.UUID, refresh_token: str) -> TokenPair:
    access = call.ctx.tokens.mint(user_id=user.id, org_id=user.organization_id, role=user.role,
                                  session_id=session_id)
    return TokenPair(access_token=access, refresh_token=refresh_token, expires_in=call.ctx.tokens.ttl)


async def check_password(call: Call, email: str, password: str) -> accounts.User:
    """The user whose email and password these are; ApiError 401 otherwise, in the same time either way.
    The caller wraps it in ``attempts.limit_failures``, so a wrong guess counts."""
    credentials = await accounts.get_credentials_by_email(call.db, email)
    if credentials is None:
        await burn_verify()  # the same work as a real check, so timing does not reveal the account
        raise ApiError(401, "AUTHENTICATION_ERROR", _BAD_LOGIN)
    if not await verify_password(credentials.password_hash, password):
        raise ApiError(401, "AUTHENTICATION_ERROR", _BAD_LOGIN)
    return credentials.user


async def create_login_session(call: Call, user: accounts.User) -> tuple[sessions.Session, str]:
    """A new session row (one refresh-token family) for ``user`` and its first raw refresh token."""
    return await sessions.create_session(
        call.db, user_id=user.id, org_id=user.organization_id,
        refresh_ttl=timedelta(seconds=call.ctx.settings.auth.refresh_token_ttl),
        user_agent=(request.headers.get("User-Agent") or "")[:300] or None, ip=request.remote_addr,
    )


async def open_session(call: Call, user: accounts.User) -> AuthResult:
    """A new session for ``user``, and its first tokens."""
    session, refresh = await create_login_session(call, user)
    return AuthResult(user=user_out(user), tokens=tokens_for(call, user, session.id, refresh))
