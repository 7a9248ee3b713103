"""Signing up in the console: ``GET/POST /signup``, a new organization and its owner.

The form is ``POST /v1/auth/register``'s body, registered through the same ``auth.register_user`` (its
validation messages under the fields, its auth limit, its verification email); then the browser is
signed in as the login form signs it in, and lands on ``/app``.
"""

from __future__ import annotations

from quart import Blueprint, Response

from http_api.auth.auth import RegisterBody, register_user
from http_api.console.forms import FormProblem, check_form, form_page, sign_in_as, validated
from http_api.console.guard import signed_in
from http_api.console.responses import redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.routing import Call

__all__ = ["add_signup_routes"]

_TEMPLATE = "console/signup.html"


def add_signup_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/signup")
    async def signup_form() -> Response:
        if await signed_in(ctx) is not None:
            return redirect_to("/app")
        return await form_page(ctx, _TEMPLATE, form={})

    @bp.post("/signup")
    async def signup() -> Response:
        form = await check_form(ctx)
        form = {key: value.strip() if key != "password" else value for key, value in form.items()}
        call = Call(ctx, None)
        try:
            user = await register_user(call, validated(form, RegisterBody))
        except ApiError as err:
            return await form_page(ctx, _TEMPLATE, problem=FormProblem(err, call), form=form)
        return await sign_in_as(ctx, call, user, "/app")
