"""Accounts and sessions: register, login, refresh (rotating), logout, profile.

Passwords are argon2id hashes checked off the event loop; access tokens are
short-lived JWTs tied to a session; refresh tokens rotate on every use and a
reused one revokes its whole session. Email flows live in ``email.py``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import msgspec

from engine.passwords import hash_password, verify_password
from engine.store import accounts, sessions
from http_api.auth.attempts import limit_failures
from http_api.auth.credentials import (
    AuthResult,
    TokenPair,
    UserOut,
    check_password,
    open_session,
    tokens_for,
    user_out,
)
from http_api.auth.email import send_verification
from http_api.auth.principal import Principal
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.fields import Email, Password
from http_api.routing import Access, Call, Router

__all__ = ["RegisterBody", "auth_router", "register_user"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RegisterBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    email: Email
    password: Password
    name: Name
    organization_name: Name


class LoginBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=128)]


class RefreshBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RefreshResult(msgspec.Struct, frozen=True):
    tokens: TokenPair


class ProfileChanges(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType = msgspec.UNSET
    # Changing the password or the email needs the current password.
    current_password: Annotated[str, msgspec.Meta(max_length=128)] | msgspec.UnsetType = msgspec.UNSET
    new_password: Password | msgspec.UnsetType = msgspec.UNSET


class OrganizationOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    tier: str


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    user: UserOut
    organization: OrganizationOut


class Message(msgspec.Struct, frozen=True):
    message: str


def auth_router(ctx: ApiContext) -> Router:
    router = Router("auth", ctx, tag="Auth")

    @router.route("POST", "/v1/auth/register", summary="Create an account and its organization",
                  access=Access.PUBLIC, body=RegisterBody, response=AuthResult, status=201,
                  errors=(409, 429),
                  description="The caller becomes the owner of a new organization, on the tier the "
                              "server's `[api] default_tier` names. A verification "
                              "email is sent; the account works before it is verified.")
    async def register(call: Call) -> AuthResult:
        return await open_session(call, await register_user(call, call.body))

    @router.route("POST", "/v1/auth/login", summary="Log in with email and password", access=Access.PUBLIC,
                  body=LoginBody, response=AuthResult, errors=(401, 429))
    async def login(call: Call) -> AuthResult:
        body: LoginBody = call.body
        async with limit_failures(call, body.email):
            user = await check_password(call, body.email, body.password)
        return await open_session(call, user)

    @router.route("POST", "/v1/auth/refresh", summary="Trade a refresh token for new tokens",
                  access=Access.PUBLIC, body=RefreshBody, response=RefreshResult, errors=(401,),
                  description="Refresh tokens rotate: each works once. Presenting a used one again "
                              "is treated as theft and ends its whole session.")
    async def refresh(call: Call) -> RefreshResult:
        ttl = timedelta(seconds=call.ctx.settings.auth.refresh_token_ttl)
        result = await sessions.rotate_refresh_token(call.db, call.body.refresh_token, ttl)
        if isinstance(result, sessions.Reused):
            raise ApiError(401, "AUTHENTICATION_ERROR", "refresh token reused; the session has been ended")
        if isinstance(result, sessions.Invalid):
            raise ApiError(401, "AUTHENTICATION_ERROR", "invalid or expired refresh token")
        return RefreshResult(tokens_for(call, result.user, result.session.id, result.refresh_token))

    @router.route("POST", "/v1/auth/logout", summary="End this session", access=Access.VIEWER,
                  response=Message)
    async def logout(call: Call) -> Message:
        me = call.caller
        await sessions.revoke_session(call.db, me.organization_id, me.user_id, me.session_id, "logout")
        return Message("logged out")

    @router.route("POST", "/v1/auth/logout-all", summary="End every session of this user",
                  access=Access.VIEWER, response=Message)
    async def logout_all(call: Call) -> Message:
        count = await sessions.revoke_all_sessions(call.db, call.caller.user_id, "logout_all")
        return Message(f"ended {count} session{'s' if count != 1 else ''}")

    @router.route("GET", "/v1/auth/profile", summary="The caller and their organization",
                  access=Access.VIEWER, response=Profile)
    async def profile(call: Call) -> Profile:
        return _caller_profile(call.caller)

    @router.route("PATCH", "/v1/auth/profile", summary="Change name, email or password",
                  access=Access.VIEWER, body=ProfileChanges, response=Profile, errors=(409,),
                  description="A new email must be verified again. A new password ends every other "
                              "session of the user.")
    async def update_profile(call: Call) -> Profile:
        await _apply_profile_changes(call, call.body)
        return await _profile(call)

    return router


async def register_user(call: Call, body: RegisterBody) -> accounts.User:
    """A new organization with ``body``'s person as its owner, under the auth limit (429), and the
    verification email sent; ApiError 409 when the email has an account. The API and the console's
    sign-up both register through here."""
    async with limit_failures(call, body.email):  # a taken email is a failure: it tells accounts apart
        password_hash = await hash_password(body.password)
        try:
            _, user = await accounts.create_organization_with_owner(
                call.db, org_name=body.organization_name, email=body.email, name=body.name,
                password_hash=password_hash, tier=call.ctx.settings.api.default_tier)
        except accounts.EmailTaken:
            raise ApiError(409, "CONFLICT", "an account with this email exists",
                           [ErrorDetail("email", "already registered")]) from None
    await send_verification(call, user)
    return user


def _caller_profile(me: Principal) -> Profile:
    """The profile as the session check read it a moment ago: no statement of its own."""
    assert me.created_at is not None  # check_session always reads it
    user = UserOut(id=me.user_id, email=me.email, name=me.name, role=me.role, organization_id=me.organization_id,
                   email_verified=me.email_verified, created_at=me.created_at)
    return Profile(user=user, organization=OrganizationOut(id=me.organization_id, name=me.organization_name,
                                                           tier=me.tier))


async def _profile(call: Call) -> Profile:
    me = call.caller
    user = await accounts.get_user(call.db, me.organization_id, me.user_id)
    org = await accounts.get_organization(call.db, me.organization_id)
    if user is None or org is None:  # removed since the session check a moment ago
        raise ApiError(401, "AUTHENTICATION_ERROR", "the session has ended; log in again")
    return Profile(user=user_out(user), organization=OrganizationOut(id=org.id, name=org.name, tier=org.tier))


async def _apply_profile_changes(call: Call, changes: ProfileChanges) -> None:
    me = call.caller
    sensitive = changes.email is not msgspec.UNSET or changes.new_password is not msgspec.UNSET
    if sensitive:
        await _check_current_password(call, changes.current_password)
    name = changes.name if changes.name is not msgspec.UNSET else None
    email = changes.email if changes.email is not msgspec.UNSET else None
    if name is not None or email is not None:
        try:
            user = await accounts.update_user_profile(call.db, me.organization_id, me.user_id,
                                                      name=name, email=email)
        except accounts.EmailTaken:
            raise ApiError(409, "CONFLICT", "an account with this email exists",
                           [ErrorDetail("email", "already registered")]) from None
        if user is not None and email is not None and not user.email_verified:
            await send_verification(call, user)
    if changes.new_password is not msgspec.UNSET:
        await accounts.set_password(call.db, me.user_id, await hash_password(changes.new_password))
        await sessions.revoke_all_sessions(call.db, me.user_id, "password_changed", except_session=me.session_id)


async def _check_current_password(call: Call, given: str | msgspec.UnsetType) -> None:
    if given is msgspec.UNSET:
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail("currentPassword", "required to change the email or password")])
    me = call.caller
    user = await accounts.get_user(call.db, me.organization_id, me.user_id)
    credentials = await accounts.get_credentials_by_email(call.db, user.email) if user else None
    if credentials is None or not await verify_password(credentials.password_hash, given):
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail("currentPassword", "does not match")])
