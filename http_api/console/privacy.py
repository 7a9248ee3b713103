"""The console's privacy buttons, on the organization page (``/app/organization``): "Download my data",
"Delete my account" (the password confirms), and for owners "Download the organization's data" and
"Delete the organization" (its name typed confirms).

Downloads are form POSTs (origin and CSRF checked) answering the API's own attachment. Each deletion has a
page of its own that says what goes, with its one field; its POST acts through the API's own function
(``http_api.privacy``), so the same checks and refusals hold, shown next to the field. After either
deletion this browser's session is gone, so it lands on the sign-in page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quart import Blueprint, Response, render_template, request

from engine.store.sessions import SessionCheck
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.cookies import clear_session_cookie
from http_api.console.guard import page_session
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.privacy.organization import delete_organization, export_organization
from http_api.privacy.people import erase_me, export_me
from http_api.routing import Access

__all__ = ["add_privacy_routes"]

_PAGE = "/app/organization"



@dataclass(frozen=True)
class _Deletion:
    """A deletion page: what it says, and its one field (name, label, input type, autocomplete)."""

    title: str
    action: str
    access: Access
    field: tuple[str, str, str, str]
    button: str
    lines: tuple[str, ...]


_ACCOUNT = _Deletion(
    title="Delete my account", action=f"{_PAGE}/delete-account", access=Access.VIEWER,
    field=("password", "Your current password", "password", "current-password"),
    button="Delete my account for good",
    lines=("Every session of yours ends at once, here and through the API.",
              "Your account, the emails we sent you and invitations to your address are deleted.",
              "What the organization keeps (its rules' history, why a campaign was paused) stays, without your"
              " name: it says a former member did it.",
              "The last owner hands ownership to another member first, or deletes the organization."),
)
_ORGANIZATION = _Deletion(
    title="Delete the organization", action=f"{_PAGE}/delete", access=Access.OWNER,
    field=("confirm", "The organization's name, to confirm", "text", "off"),
    button="Delete the organization and all its data",
    lines=("Every member's account is deleted with it, yours too, and every session ends.",
              "Its tracks, campaigns, audiences, rules, webhooks, imports, exports, fans and their plays go.",
              "Meta is asked to revoke our access; Spotify has no way to ask, so its tokens are only deleted.",
              "Webhook deliveries still pending are never sent. Download the organization's data first if you"
              " need it."),
)


def add_privacy_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post(f"{_PAGE}/my-data")
    async def my_data() -> Response:
        return await export_me(acting_call(ctx, await form_session(ctx, Access.VIEWER)))

    @bp.post(f"{_PAGE}/export")
    async def organization_data() -> Response:
        return await export_organization(acting_call(ctx, await form_session(ctx, Access.OWNER)))

    _add_deletion(bp, ctx, _ACCOUNT, lambda session, value: erase_me(acting_call(ctx, session), value))
    _add_deletion(bp, ctx, _ORGANIZATION,
                  lambda session, value: delete_organization(acting_call(ctx, session), value))


def _add_deletion(bp: Blueprint, ctx: ApiContext, page: _Deletion,
                  act: Callable[[SessionCheck, str], Awaitable[None]]) -> None:
    async def show() -> Response:
        session = await page_session(ctx)
        return html_page(await _render(ctx, session, page), 200 if allowed(session, page.access) else 403)

    async def submit() -> Response:
        session = await form_session(ctx, page.access)
        name = page.field[0]
        try:
            await act(session, (await request.form).get(name, ""))
        except ApiError as err:
            message = "; ".join(d.message for d in err.details if d.field == name) or err.message
            return html_page(await _render(ctx, session, page, error=message), err.status)
        response = redirect_to("/login")  # this browser's session went with the account
        clear_session_cookie(response)
        return response

    bp.add_url_rule(page.action, f"show_{page.action}", show, methods=["GET"])
    bp.add_url_rule(page.action, f"submit_{page.action}", submit, methods=["POST"])


async def _render(ctx: ApiContext, session: SessionCheck, page: _Deletion, *, error: str = "") -> str:
    return await render_template("console/privacy_delete.html", **await layout(ctx, session), page=page,
                                 error=error, may=allowed(session, page.access))
