"""Who is signed in to the console, and the checks every state-changing console request passes: the
request comes from our own origin, and its form carries the expected CSRF token. A failed check raises
``Refused``, which the pages answer with a 403 page. Redirect targets (``next``) stay on this site.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from quart import request, websocket

from engine.store.sessions import SessionCheck, check_session
from http_api.console.cookies import read_session_cookie, same_token
from http_api.context import ApiContext

__all__ = [
    "Refused", "SignInFirst", "check_csrf", "check_origin", "live_session", "local_path", "page_session", "signed_in",
]  # fmt: skip


class Refused(Exception):
    """A console request that failed a CSRF check; ``reason`` says which, for the 403 page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignInFirst(Exception):
    """A page or form reached without a live session; the console answers with the sign-in page, which
    comes back to ``next_path`` afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def page_session(ctx: ApiContext) -> SessionCheck:
    """The signed-in user of a page request; ``SignInFirst`` (back to this page) when there is none."""
    session = await signed_in(ctx)
    if session is None:
        raise SignInFirst(request.path)
    return session


async def signed_in(ctx: ApiContext) -> SessionCheck | None:
    """The live session this request's cookie names, or None (no cookie, a bad signature, or a session
    row that was revoked or has expired: logout, "end session", logout-all, a password reset)."""
    return await _cookie_session(ctx, request.cookies)


async def live_session(ctx: ApiContext) -> SessionCheck | None:
    """The live session behind a console page's WebSocket handshake. Browsers send the cookie with a
    handshake that another site's page opens too, and no CSRF token can ride along: so the handshake must
    carry our own Origin (every browser sends one), never none."""
    origin = websocket.headers.get("Origin")
    if origin is None or origin.rstrip("/") not in _own_origins(ctx, websocket.host):
        return None
    return await _cookie_session(ctx, websocket.cookies)


async def _cookie_session(ctx: ApiContext, cookies: Mapping[str, str]) -> SessionCheck | None:
    signed = read_session_cookie(ctx.keys, cookies)
    if signed is None:
        return None
    # Not counted in the organization's hourly API budget: pages are not API calls.
    session = await check_session(ctx.db(), signed.session_id, signed.user_id)
    return session if session is not None and session.live else None


def check_origin(ctx: ApiContext) -> None:
    """Refuse a request whose Origin (else Referer) names another site. Browsers send Origin on every
    form POST; when a privacy tool strips both, the CSRF token alone still guards the request."""
    origin = request.headers.get("Origin")
    if origin is None and (referer := request.headers.get("Referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin is None:
        return
    if origin.rstrip("/") not in _own_origins(ctx, request.host):
        raise Refused("the request came from another site")


async def check_csrf(expected: str) -> None:
    """Refuse a form whose ``csrf_token`` field is missing or is not ``expected``."""
    form = await request.form
    if not same_token(form.get("csrf_token"), expected):
        raise Refused("the form's security token is missing or out of date")


def _own_origins(ctx: ApiContext, host: str) -> set[str]:
    """Our public URL's origin, and the host the browser addressed (a proxy may rewrite the scheme)."""
    public = urlsplit(ctx.public_url)
    return {f"{public.scheme}://{public.netloc}", f"http://{host}", f"https://{host}"}


def local_path(target: str | None, default: str = "/app") -> str:
    """``target`` when it is a path on this site (``/app``), else ``default``: never ``//evil.example``,
    ``/\\evil.example``, a scheme, or anything with a host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\\\r\n\t"):
        return default
    return target
