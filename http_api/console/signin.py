"""Signing in and out of the console: ``GET/POST /login`` and ``POST /logout``.

Sign-in is the API's login (``credentials.check_password`` under the same ``attempts.limit_failures``)
ending in a session row made as the API makes one; the browser gets that row in the session cookie
instead of tokens. Logout revokes the row as ``POST /v1/auth/logout`` does.
"""

from __future__ import annotations

from quart import Blueprint, Response, render_template, request

from engine.store import sessions
from http_api.auth.attempts import limit_failures
from http_api.auth.credentials import check_password, create_login_session
from http_api.console.cookies import (
    LOGIN_CSRF_AGE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    csrf_token,
    new_login_csrf,
    same_token,
    session_cookie,
    set_cookie,
)
from http_api.console.guard import Refused, check_csrf, check_origin, local_path, signed_in
from http_api.console.responses import html_page, redirect_to
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
        check_origin(ctx)
        form = await request.form
        if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE) or ""):
            raise Refused("the sign-in form's security token is missing or out of date; reload the page")
        email, password = form.get("email", "").strip(), form.get("password", "")
        next_path = local_path(form.get("next"))
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
            response = await _login_page(ctx, next_path=next_path, email=email, problem=err.message,
                                         status=err.status)
            response.headers.update({**call.headers, **err.headers})
            return response
        return await _login_page(ctx, next_path=next_path, email=email, status=400,
                                 errors={"password": "The email or the password is wrong."})
    session, _ = await create_login_session(call, user)  # the refresh token is the API's: unused here
    response = redirect_to(next_path)
    set_cookie(response, SESSION_COOKIE, session_cookie(ctx.keys, session.id, user.id),
               max_age=ctx.settings.auth.refresh_token_ttl, public_url=ctx.public_url)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _field_errors(email: str, password: str) -> dict[str, str]:
    errors = {}
    if not email or "@" not in email or len(email) > _MAX_EMAIL:
        errors["email"] = "Enter the email address you signed up with."
    if not password or len(password) > _MAX_PASSWORD:
        errors["password"] = "Enter your password."
    return errors


async def _login_page(ctx: ApiContext, *, next_path: str, email: str = "", errors: dict[str, str] | None = None,
                      problem: str | None = None, status: int = 200) -> Response:
    """The form, with a login CSRF token: the browser's cookie's when it has one, else a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    html = await render_template("console/login.html", csrf_token=token, next_path=next_path, email=email,
                                 errors=errors or {}, problem=problem)
    response = html_page(html, status)
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=LOGIN_CSRF_AGE, public_url=ctx.public_url)
    return response
