"""The console acting through the API's own code: a signed-in session as the ``Call`` the JSON routes'
shared functions take, so a page's form does exactly what the matching API request does (same checks,
same errors), and the role a page's action needs, checked as the API checks it.
"""

from __future__ import annotations

from quart import request

from engine.audit import attribute_task
from engine.store import accounts
from engine.store.sessions import SessionCheck
from http_api.auditing import current_source, request_context
from http_api.auth.principal import Principal
from http_api.console.cookies import csrf_token
from http_api.console.guard import Refused, SignInFirst, check_csrf, check_origin, local_path, signed_in
from http_api.context import ApiContext
from http_api.routing import ROLE_RANK, Access, Call

__all__ = ["acting_call", "allowed", "form_session", "layout"]


def acting_call(ctx: ApiContext, session: SessionCheck) -> Call:
    """``session`` as an API caller. Not counted in the hourly API budget: pages are not API calls."""
    principal = Principal(user_id=session.user_id, organization_id=session.organization_id, role=session.role,
                          session_id=session.session_id, tier=session.tier, email=session.email)
    return Call(ctx, principal)


def allowed(session: SessionCheck, access: Access) -> bool:
    """Whether the session's user has the role ``access`` needs (viewer < member < admin < owner)."""
    return ROLE_RANK[session.role] >= access


async def form_session(ctx: ApiContext, access: Access) -> SessionCheck:
    """The signed-in user behind a form POST, its origin and CSRF token checked. Raises ``SignInFirst``
    when signed out (back to the page the form was on), ``Refused`` (a 403 page) on a failed check or
    when the user's role is below ``access``."""
    check_origin(ctx)
    session = await signed_in(ctx)
    if session is None:
        referer = request.headers.get("Referer", "")
        raise SignInFirst(local_path("/" + referer.split("/", 3)[3] if referer.count("/") >= 3 else None))
    await check_csrf(csrf_token(ctx.keys, session.session_id))
    if not allowed(session, access):
        raise Refused(f"this needs the {access.name.lower()} role or higher; you are {session.role}")
    # The rest of this request's task acts as the user (engine/audit.py).
    attribute_task(request_context(current_source(), session.user_id, session.email, session.organization_id))
    return session


async def layout(ctx: ApiContext, session: SessionCheck) -> dict[str, object]:
    """What the signed-in layout (console/app.html) needs: the user, the organization, the CSRF token."""
    db, org_id = ctx.db(), session.organization_id
    return {"org": await accounts.get_organization(db, org_id),
            "user": await accounts.get_user(db, org_id, session.user_id),
            "csrf_token": csrf_token(ctx.keys, session.session_id)}
