"""The console's organization page, ``GET /app/organization``: the organization and its tier's hourly API
limit, its members with their roles, its invitations, and the signed-in user's own sessions.

Its buttons are form POSTs (origin and CSRF checked, the role the API asks) through the same functions as
``/v1/organization/...`` and ``DELETE /v1/sessions/{id}``, so the API's rules hold here too (only an owner
grants or takes the owner role, an organization keeps an owner), and its messages show next to the field
or button they are about. Ending the session this browser uses signs it out.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, render_template, request

from engine.store import accounts, invitations, sessions
from engine.store.sessions import SessionCheck
from http_api.auth.sessions import end_session
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.cookies import clear_session_cookie
from http_api.console.guard import page_session
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.organizations.organizations import (
    InvitationBody,
    RoleChange,
    change_role,
    invite_by_email,
    remove_from_organization,
    revoke_pending_invitation,
)
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown, land_in_console
from http_api.quotas import TIER_LIMITS
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_organization_routes"]

_PAGE = "/app/organization"
_INVITATIONS_SHOWN = 20  # the newest; the API pages through the rest
_ROLES = ("viewer", "member", "admin", "owner")
_INVITED_ROLES = ("viewer", "member", "admin")


def add_organization_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def organization_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(html_page(await _render(ctx, session)))

    @bp.post(f"{_PAGE}/members/<uuid:user_id>/role")
    async def set_role(user_id: uuid.UUID) -> Response:
        async def act(session: SessionCheck) -> Response:
            role = validate({"role": (await request.form).get("role", "")}, RoleChange).role
            changed = await change_role(acting_call(ctx, session), user_id, role)
            return _back(ctx, f"{changed.name} is now {changed.role}.")
        return await _on_member(ctx, f"role-{user_id}", act)

    @bp.post(f"{_PAGE}/members/<uuid:user_id>/remove")
    async def remove(user_id: uuid.UUID) -> Response:
        async def act(session: SessionCheck) -> Response:
            await remove_from_organization(acting_call(ctx, session), user_id)
            return _back(ctx, "The member is removed, and their sessions ended.")
        return await _on_member(ctx, f"remove-{user_id}", act)

    _add_invitation_routes(bp, ctx)
    _add_session_routes(bp, ctx)


def _add_invitation_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post(f"{_PAGE}/invitations")
    async def invite() -> Response:
        session = await form_session(ctx, Access.ADMIN)
        form = await request.form
        data = {"email": form.get("email", "").strip(), "role": form.get("role", "")}
        try:
            invitation = await invite_by_email(acting_call(ctx, session), validate(data, InvitationBody))
        except ApiError as err:
            errors = {f"invite-{d.field}": d.message for d in err.details} or {"invite-email": err.message}
            return html_page(await _render(ctx, session, errors=errors, invite=data), err.status)
        return _back(ctx, f"An invitation to join as {invitation.role} is sent to {invitation.email}.")

    @bp.post(f"{_PAGE}/invitations/<uuid:invitation_id>/revoke")
    async def revoke(invitation_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.ADMIN)
        try:
            await revoke_pending_invitation(acting_call(ctx, session), invitation_id)
        except ApiError as err:
            if err.status == 404:
                return await not_found_page("pending invitation")
            raise
        return _back(ctx, "The invitation is revoked: its link no longer works.")


def _add_session_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post("/app/sessions/<uuid:session_id>/end")
    async def end(session_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.VIEWER)
        try:
            await end_session(acting_call(ctx, session), session_id)
        except ApiError as err:
            if err.status == 404:
                return await not_found_page("session")
            raise
        if session_id != session.session_id:
            return _back(ctx, "The session is ended: that device is signed out.")
        response = redirect_to("/login")  # this browser's own session: signed out here
        clear_session_cookie(response)
        return response


async def _on_member(ctx: ApiContext, field: str, act: Callable[[SessionCheck], Awaitable[Response]]) -> Response:
    """``act`` for the signed-in admin; the API's refusal next to the member's ``field``, or a 404 page."""
    session = await form_session(ctx, Access.ADMIN)
    try:
        return await act(session)
    except ApiError as err:
        if err.status == 404:
            return await not_found_page("member")
        message = "; ".join(d.message for d in err.details) if err.status == 400 else err.message
        return html_page(await _render(ctx, session, errors={field: message}), err.status)


def _back(ctx: ApiContext, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url, page=_PAGE)


async def _render(ctx: ApiContext, session: SessionCheck, *, errors: dict[str, str] | None = None,
                  invite: dict[str, str] | None = None) -> str:
    db, org_id = ctx.db(), session.organization_id
    admin = allowed(session, Access.ADMIN)
    shown = await layout(ctx, session)
    org = shown["org"]
    assert isinstance(org, accounts.Organization)  # the session check joins the organization
    pending = (await invitations.list_invitations(db, org_id, limit=_INVITATIONS_SHOWN)).items if admin else []
    return await render_template(
        "console/organization.html", **shown, flash=request.cookies.get(FLASH_COOKIE), may_change=admin,
        hourly_limit=TIER_LIMITS[org.tier], members=await accounts.list_members(db, org_id),
        invitations=pending, sessions=await sessions.list_sessions(db, org_id, session.user_id),
        current_session=session.session_id, roles=_ROLES, invited_roles=_INVITED_ROLES,
        errors=errors or {}, invite=invite or {"email": "", "role": "member"})
