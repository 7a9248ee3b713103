"""The email side of accounts: verify an address, resend the link, forget and
reset a password, check whether an address is free.

Tokens are single-use and stored hashed. The answers to "resend" and "forgot"
never reveal whether an address has an account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

import msgspec

from engine.audit import acting_as
from engine.passwords import hash_password
from engine.store import accounts, sessions
from http_api.auditing import current_source, request_context
from http_api.auth.attempts import limit_failures, limit_requests
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.fields import Email, Password
from http_api.routing import Access, Call, Router

__all__ = ["EmailBody", "ResetBody", "auth_email_router", "email_link", "forgot_password", "reset_password",
           "send_verification", "verify_email"]

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class EmailBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email


class ResetBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Token
    password: Password


class Accepted(msgspec.Struct, frozen=True):
    message: str


class Availability(msgspec.Struct, frozen=True):
    email: str
    available: bool


async def send_verification(call: Call, user: accounts.User) -> None:
    ttl = timedelta(seconds=call.ctx.settings.auth.email_token_ttl)
    token = await accounts.create_email_token(call.db, user.id, "verify_email", ttl)
    link = email_link(call, "/verify-email", token)
    await call.ctx.mailer.send(
        to=user.email, subject="Verify your SongTrackPro email", org_id=user.organization_id,
        body=f"Hello {user.name},\n\nConfirm this address by opening:\n{link}\n\n"
             f"The link works once and expires in {ttl.total_seconds() / 3600:.0f} hours.\n",
    )


def email_link(call: Call, page: str, token: str) -> str:
    """The absolute URL of the console ``page`` that takes ``token``: what an email's link opens. API
    clients read the token from its ``token`` parameter."""
    return f"{call.ctx.public_url}{page}?{urlencode({'token': token})}"


async def verify_email(call: Call, token: str) -> None:
    """Mark the token's address verified; ApiError 400 when the token is invalid, used or expired."""
    user_id = await accounts.consume_email_token(call.db, token, "verify_email")
    if user_id is None:
        raise ApiError(400, "VALIDATION_ERROR", "this verification link is invalid, used or expired",
                       [ErrorDetail("token", "invalid, used or expired")])
    # The email's link is a GET, which routing.py attributes to nobody: the address's owner verifies it.
    with acting_as(request_context(current_source())):
        await accounts.mark_email_verified(call.db, user_id)


async def forgot_password(call: Call, email: str) -> None:
    """Email a reset link when ``email`` has an account; counted against the request limit (429)."""
    await limit_requests(call, email)
    credentials = await accounts.get_credentials_by_email(call.db, email)
    if credentials is not None:
        await _send_reset(call, credentials.user)


async def reset_password(call: Call, body: ResetBody) -> None:
    """Set the new password of the token's user and end every session of theirs; ApiError 400 for a bad
    token (a failure under the auth limit, 429)."""
    async with limit_failures(call, None):
        user_id = await accounts.consume_email_token(call.db, body.token, "reset_password")
        if user_id is None:
            raise ApiError(400, "VALIDATION_ERROR", "this reset token is invalid, used or expired",
                           [ErrorDetail("token", "invalid, used or expired")])
    await accounts.set_password(call.db, user_id, await hash_password(body.password))
    await sessions.revoke_all_sessions(call.db, user_id, "password_reset")


def auth_email_router(ctx: ApiContext) -> Router:
    router = Router("auth_email", ctx, tag="Auth")

    @router.route("GET", "/v1/auth/verify-email/<token>", summary="Confirm an email address",
                  access=Access.PUBLIC, response=Accepted,
                  description="The link from the verification email. Each link works once.")
    async def verify(call: Call, token: str) -> Accepted:
        await verify_email(call, token)
        return Accepted("email verified")

    @router.route("POST", "/v1/auth/resend-verification", summary="Send the verification email again",
                  access=Access.PUBLIC, body=EmailBody, response=Accepted, status=202, errors=(429,))
    async def resend_verification(call: Call) -> Accepted:
        await limit_requests(call, call.body.email)
        credentials = await accounts.get_credentials_by_email(call.db, call.body.email)
        if credentials is not None and not credentials.user.email_verified:
            await send_verification(call, credentials.user)
        return Accepted("if that address has an unverified account, a new link is on its way")

    @router.route("POST", "/v1/auth/forgot-password", summary="Email a password-reset link",
                  access=Access.PUBLIC, body=EmailBody, response=Accepted, status=202, errors=(429,))
    async def forgot(call: Call) -> Accepted:
        await forgot_password(call, call.body.email)
        return Accepted("if that address has an account, a reset link is on its way")

    @router.route("POST", "/v1/auth/reset-password", summary="Set a new password with a reset token",
                  access=Access.PUBLIC, body=ResetBody, response=Accepted, errors=(429,),
                  description="Ends every session of the user: whoever knew the old password is out.")
    async def reset(call: Call) -> Accepted:
        await reset_password(call, call.body)
        return Accepted("password changed; log in with the new one")

    @router.route("POST", "/v1/auth/check-email", summary="Whether an email can still register",
                  access=Access.PUBLIC, body=EmailBody, response=Availability, errors=(429,),
                  description="Limited like login, since it tells whether an account exists.")
    async def check_email(call: Call) -> Availability:
        await limit_requests(call, call.body.email)
        return Availability(call.body.email, await accounts.email_available(call.db, call.body.email))

    return router


async def _send_reset(call: Call, user: accounts.User) -> None:
    ttl = timedelta(hours=1)  # short: a reset link is a password
    token = await accounts.create_email_token(call.db, user.id, "reset_password", ttl)
    await call.ctx.mailer.send(
        to=user.email, subject="Reset your SongTrackPro password", org_id=user.organization_id,
        body=f"Hello {user.name},\n\nSomeone asked to reset your password. If it was you, choose a new one "
             f"by opening:\n{email_link(call, '/reset-password', token)}\n\n"
             "It works once and expires in one hour. If it was not you, ignore this email.\n",
    )
