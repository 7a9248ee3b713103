"""Signing in and out of the console: ``GET/POST /login`` and ``POST /logout``.

Sign-in is the API's login (``credentials.check_password`` under the same ``attempts.limit_failures``)
ending in a session row made as the API makes one; the browser gets that row in the session cookie
instead of tokens. Logout revokes the row as ``POST /v1/auth/logout`` does.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from engine.store import sessions
from http_api.auth.attempts import limit_failures
from http_api.auth.credentials import check_password
from http_api.console.cookies import clear_session_cookie, csrf_token
from http_api.console.forms import FormProblem, check_form, form_page, sign_in_as
from http_api.console.guard import check_csrf, check_origin, local_path, signed_in
from http_api.console.responses import redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.routing import Call

__all__ = ["add_signin_routes"]

_MAX_EMAIL, _MAX_PASSWORD = 254, 128  # as the API's LoginBody


def add_signin_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/login")
    async def login_form() -> Response:
        next_path = local_path(request.args.get("next"))
        if await signed_in(ctx) is not None:
            return redirect_to(next_path)
        return await _login_page(ctx, next_path=next_path)

    @bp.post("/login")
    async def login() -> Response:
        form = await check_form(ctx)
        email, password = form.get("email", "").strip(), form.get("password", "")
        next_path = local_path((await request.form).get("next"))
        errors = _field_errors(email, password)
        if errors:
            return await _login_page(ctx, next_path=next_path, email=email, errors=errors, status=400)
        return await _sign_in(ctx, email, password, next_path)

    @bp.post("/logout")
    async def logout() -> Response:
        check_origin(ctx)
        session = await signed_in(ctx)
        if session is not None:
            await check_csrf(csrf_token(ctx.keys, session.session_id))
            await sessions.revoke_session(ctx.db(), session.organization_id, session.user_id, session.session_id,
                                          "logout")
        response = redirect_to("/login")
        clear_session_cookie(response)
        return response


async def _sign_in(ctx: ApiContext, email: str, password: str, next_path: str) -> Response:
    call = Call(ctx, None)
    try:
        async with limit_failures(call, email):
            user = await check_password(call, email, password)
    except ApiError as err:
        if err.status != 401:  # 429: too many attempts, said above the form
            return await form_page(ctx, "console/login.html", problem=FormProblem(err, call),
                                   next_path=next_path, email=email)
        return await _login_page(ctx, next_path=next_path, email=email, status=400,
                                 errors={"password": "The email or the password is wrong."})
    return await sign_in_as(ctx, call, user, next_path)


def _field_errors(email: str, password: str) -> dict[str, str]:
    errors = {}
    if not email or "@" not in email or len(email) > _MAX_EMAIL:
        errors["email"] = "Enter the email address you signed up with."
    if not password or len(password) > _MAX_PASSWORD:
        errors["password"] = "Enter your password."
    return errors


async def _login_page(ctx: ApiContext, *, next_path: str, email: str = "", errors: dict[str, str] | None = None,
                      status: int = 200) -> Response:
    return await form_page(ctx, "console/login.html", status=status, next_path=next_path, email=email,
                           errors=errors)
