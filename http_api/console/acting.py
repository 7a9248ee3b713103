"""The console acting through the API's own code: a signed-in session as the ``Call`` the JSON routes'
shared functions take, so a page's form does exactly what the matching API request does (same checks,
same errors), and the role a page's action needs, checked as the API checks it.
"""

from __future__ import annotations

from engine.store.sessions import SessionCheck
from http_api.auth.principal import Principal
from http_api.console.cookies import csrf_token
from http_api.console.guard import Refused, check_csrf, check_origin, signed_in
from http_api.context import ApiContext
from http_api.routing import ROLE_RANK, Access, Call

__all__ = ["acting_call", "allowed", "form_session"]


def acting_call(ctx: ApiContext, session: SessionCheck) -> Call:
    """``session`` as an API caller. Not counted in the hourly API budget: pages are not API calls."""
    principal = Principal(user_id=session.user_id, organization_id=session.organization_id, role=session.role,
                          session_id=session.session_id, tier=session.tier)
    return Call(ctx, principal)


def allowed(session: SessionCheck, access: Access) -> bool:
    """Whether the session's user has the role ``access`` needs (viewer < member < admin < owner)."""
    return ROLE_RANK[session.role] >= access


async def form_session(ctx: ApiContext, access: Access) -> SessionCheck | None:
    """The signed-in user behind a form POST, its origin and CSRF token checked, None when signed out.
    Raises ``Refused`` (a 403 page) on a failed check or when the user's role is below ``access``."""
    check_origin(ctx)
    session = await signed_in(ctx)
    if session is None:
        return None
    await check_csrf(csrf_token(ctx.keys, session.session_id))
    if not allowed(session, access):
        raise Refused(f"this needs the {access.name.lower()} role or higher; you are {session.role}")
    return session
