"""What the console's forms before sign-in share (sign-in, sign-up, the e-mail link pages): their CSRF
token, a double-submit cookie since there is no session yet to tie it to; the API's validation errors put
next to the fields they name; and a sign-in that ends such a form, a session row in the session cookie.

It owns no route: the pages are ``signin.py``'s, ``signup.py``'s, ``email_links.py``'s.
"""

from __future__ import annotations

from typing import TypeVar

from quart import Response, render_template, request

from engine.store import accounts
from http_api.auth.credentials import create_login_session
from http_api.console.cookies import (
    LOGIN_CSRF_AGE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    new_login_csrf,
    same_token,
    session_cookie,
    set_cookie,
)
from http_api.console.guard import Refused, check_origin
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.routing import Call
from http_api.validation import validate

__all__ = ["FormProblem", "check_form", "form_page", "sign_in_as", "validated"]

T = TypeVar("T")


class FormProblem:
    """What a refused form shows: a message per field (the API's, under the field it names) and, for what
    no field explains (too many attempts), one message above the form; ``status`` and ``headers`` (the
    rate limit's) are the page's."""

    def __init__(self, err: ApiError, call: Call) -> None:
        self.status = err.status
        self.headers = {**call.headers, **err.headers}
        self.errors = {d.field: _readable(d.message) for d in err.details}
        self.problem = None if self.errors else err.message


def _readable(message: str) -> str:
    # The one API message written for programs: a regular expression means "not an email address".
    return "expected an email address" if "matching regex" in message else message


async def form_page(ctx: ApiContext, template: str, *, status: int = 200, problem: FormProblem | None = None,
                    errors: dict[str, str] | None = None, **context: object) -> Response:
    """``template`` rendered with a pre-session CSRF token (the browser's cookie's when it has one, else a
    new one, set in that cookie), the field ``errors`` and the ``problem`` above the form (``problem``'s
    when given)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    html = await render_template(template, csrf_token=token, errors=problem.errors if problem else errors or {},
                                 problem=problem.problem if problem else None, **context)
    response = html_page(html, problem.status if problem else status)
    if problem:
        response.headers.update(problem.headers)
    # Token pages: the Referer of what they load holds our origin only, never their URL's token.
    response.headers["Referrer-Policy"] = "strict-origin"
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=LOGIN_CSRF_AGE, public_url=ctx.public_url)
    return response


async def check_form(ctx: ApiContext) -> dict[str, str]:
    """The posted form's fields once it passes the CSRF checks (same origin, the double-submit token);
    ``Refused`` otherwise."""
    check_origin(ctx)
    form = await request.form
    if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE) or ""):
        raise Refused("the form's security token is missing or out of date; reload the page")
    return {key: value for key, value in form.items() if key not in ("csrf_token", "next")}


def validated(fields: dict[str, str], kind: type[T]) -> T:
    """``fields`` as the API's body ``kind``, with its messages (ApiError 400); an empty field is missing."""
    return validate({key: value for key, value in fields.items() if value != ""}, kind)


async def sign_in_as(ctx: ApiContext, call: Call, user: accounts.User, target: str) -> Response:
    """A new session row for ``user``, as the API's login opens one, held in the session cookie; then
    See Other to ``target``."""
    session, _ = await create_login_session(call, user)  # the refresh token is the API's: unused here
    response = redirect_to(target)
    set_cookie(response, SESSION_COOKIE, session_cookie(ctx.keys, session.id, user.id),
               max_age=ctx.settings.auth.refresh_token_ttl, public_url=ctx.public_url)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response
