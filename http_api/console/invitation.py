"""Accepting an invitation in the console: ``GET/POST /accept-invitation``, the invitation e-mail's link.

The page shows the organization and the role before anything changes; the form asks for a name and a
password and accepts through ``organizations.accept_invitation``, as ``POST /v1/auth/accept-invitation``
does (its messages, its limit), then signs the new member in. The token handling is ``email_links.py``'s.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from engine.store import accounts, invitations
from http_api.console.email_links import notice
from http_api.console.forms import FormProblem, check_form, form_page, sign_in_as, validated
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.organizations.organizations import AcceptBody, accept_invitation
from http_api.routing import Call

__all__ = ["add_invitation_routes"]

_TEMPLATE = "console/accept_invitation.html"


def add_invitation_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/accept-invitation")
    async def invitation_form() -> Response:
        return await _form(ctx, request.args.get("token", ""), {})

    @bp.post("/accept-invitation")
    async def accept() -> Response:
        form = await check_form(ctx)
        form["name"] = form.get("name", "").strip()
        call = Call(ctx, None)
        try:
            user = await accept_invitation(call, validated(form, AcceptBody))
        except ApiError as err:
            if err.status == 409 or any(d.field == "token" for d in err.details):
                return await _unusable(err.status)
            return await _form(ctx, form.get("token", ""), form, FormProblem(err, call))
        return await sign_in_as(ctx, call, user, "/app")


async def _form(ctx: ApiContext, token: str, form: dict[str, str], problem: FormProblem | None = None) -> Response:
    found = await invitations.find_pending_invitation(ctx.db(), token) if token else None
    if found is None:
        return await _unusable(400)
    invitation, org_name = found
    if not await accounts.email_available(ctx.db(), invitation.email):
        return await _unusable(409)
    return await form_page(ctx, _TEMPLATE, problem=problem, token=token, invitation=invitation,
                           org_name=org_name, form=form)


async def _unusable(status: int) -> Response:
    if status == 409:
        return await notice("You already have an account", [
            "This address has a SongTrackPro account already, so the invitation cannot create another. "
            "Sign in, or ask whoever invited you to invite another address."], [("/login", "Sign in")],
            status=409)
    return await notice("This invitation does not work", [
        "The invitation link is invalid, was used already, was revoked, or has expired.",
        "Ask whoever invited you to send a new invitation."], [("/login", "Sign in")], status=400)
