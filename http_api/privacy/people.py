"""What ``GET /v1/users/me/export`` and ``DELETE /v1/users/me`` do (declared in ``routes.py``): the caller's own
data, downloaded or erased.

It owns the password check before an erasure and the refusals a person can act on (the last owner hands
over or deletes the organization first). What the export holds and what erasure removes or anonymises is
the store's (``engine.store.privacy``); the console's buttons call ``export_me`` and ``erase_me``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from quart import Response

from engine.passwords import verify_password
from engine.store import accounts, privacy
from http_api.auth.attempts import limit_failures
from http_api.errors import ApiError, ErrorDetail
from http_api.responses import attachment
from http_api.routing import Call

__all__ = ["ErasureBody", "erase_me", "export_me"]


class ErasureBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, description="The caller's current password")]


async def export_me(call: Call) -> Response:
    """The caller's export as a JSON attachment; 401 when their account went meanwhile."""
    me = call.caller
    body = await privacy.user_export(call.db, me.organization_id, me.user_id)
    if body is None:
        raise ApiError(401, "AUTHENTICATION_ERROR", "the session has ended; log in again")
    day = call.ctx.domain_now().date().isoformat()
    return attachment(body, "application/json", f"songtrack-my-data-{day}.json")


async def erase_me(call: Call, password: str) -> None:
    """Erase the caller after checking ``password``. ApiError 400 naming ``password`` (wrong), 429 (too many
    wrong guesses), 409 (the last owner: ``details`` name ``role``)."""
    me = call.caller
    user = await accounts.get_user(call.db, me.organization_id, me.user_id)
    if user is None:
        raise ApiError(401, "AUTHENTICATION_ERROR", "the session has ended; log in again")
    async with limit_failures(call, user.email):
        credentials = await accounts.get_credentials_by_email(call.db, user.email)
        if credentials is None or not await verify_password(credentials.password_hash, password):
            raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                           [ErrorDetail("password", "does not match your current password")])
    try:
        await privacy.erase_user(call.db, me.organization_id, me.user_id)
    except privacy.ErasureBlocked as exc:
        raise _blocked(exc.reason) from None


def _blocked(reason: privacy.BlockReason) -> ApiError:
    if reason == "only_member":
        message = ("you are the only member of your organization: delete the organization instead"
                   " (DELETE /v1/organization), which erases your account with it")
    else:
        message = ("you are the last owner of your organization: make another member an owner first"
                   " (PATCH /v1/organization/members/{id} with role owner), or delete the organization"
                   " (DELETE /v1/organization)")
    return ApiError(409, "CONFLICT", message, [ErrorDetail("role", reason)])
