"""The pages the account e-mails link to: ``GET /verify-email``, ``GET/POST /forgot-password`` and
``GET/POST /reset-password``. Each does what its API route does, through the same function of
``http_api.auth.email`` (limits and messages included).

A token arrives only in the e-mail's link (``?token=``); from there it goes into the form's hidden field,
never into another URL, a script or a log (the access log leaves query strings out, and these
pages send a Referer of our origin alone). Once used, no page shows it again.
"""

from __future__ import annotations

from quart import Blueprint, Response, render_template, request

from http_api.auth.email import EmailBody, ResetBody, forgot_password, reset_password, verify_email
from http_api.console.forms import FormProblem, check_form, form_page, validated
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.routing import Call

__all__ = ["add_email_link_routes", "notice"]

_SIGN_IN = ("/login", "Sign in")
_FORGOT = ("/forgot-password", "Ask for a new reset link")


def add_email_link_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/verify-email")
    async def verify_page() -> Response:
        try:
            await verify_email(Call(ctx, None), request.args.get("token", ""))
        except ApiError:
            return await notice("This link does not work", [
                "The verification link is invalid, was used already, or has expired.",
                "Your account works meanwhile. Sign in, and ask for a new link from your profile "
                "(POST /v1/auth/resend-verification)."], [_SIGN_IN], status=400)
        return await notice("Email verified", ["Thank you: your email address is confirmed."], [_SIGN_IN])

    @bp.get("/forgot-password")
    async def forgot_form() -> Response:
        return await form_page(ctx, "console/forgot_password.html", form={})

    @bp.post("/forgot-password")
    async def forgot() -> Response:
        form = await check_form(ctx)
        call = Call(ctx, None)
        try:
            await forgot_password(call, validated({"email": form.get("email", "").strip()}, EmailBody).email)
        except ApiError as err:
            return await form_page(ctx, "console/forgot_password.html", problem=FormProblem(err, call), form=form)
        return await notice("Check your email", [
            "If that address has an account, a link to choose a new password is on its way. It works once, "
            "for one hour."], [_SIGN_IN], status=202)

    @bp.get("/reset-password")
    async def reset_form() -> Response:
        return await form_page(ctx, "console/reset_password.html", token=request.args.get("token", ""))

    @bp.post("/reset-password")
    async def reset() -> Response:
        form = await check_form(ctx)
        token, again = form.get("token", ""), form.pop("password2", "")
        call = Call(ctx, None)
        try:
            body = validated(form, ResetBody)
            if again != body.password:
                return await form_page(ctx, "console/reset_password.html", status=400, token=token,
                                       errors={"password2": "the two passwords differ"})
            await reset_password(call, body)
        except ApiError as err:
            if any(d.field == "token" for d in err.details):
                return await notice("This link does not work", [
                    "The reset link is invalid, was used already, or has expired (it lasts one hour)."],
                    [_FORGOT], status=err.status)
            return await form_page(ctx, "console/reset_password.html", problem=FormProblem(err, call), token=token)
        return await notice("Password changed", [
            "Your new password is set, and every session of yours has ended. Sign in with the new password."],
            [_SIGN_IN])


async def notice(heading: str, lines: list[str], links: list[tuple[str, str]], *, status: int = 200) -> Response:
    """A page that says what happened and links the way forward; never a token."""
    html = await render_template("console/notice.html", heading=heading, lines=lines, links=links)
    response = html_page(html, status)
    response.headers["Referrer-Policy"] = "strict-origin"  # it may answer a URL that held a token
    return response
