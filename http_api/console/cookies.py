"""The console's cookies and the values in them: which session a browser holds, and the CSRF tokens.

The session cookie holds the session row's id and its user's id with an HMAC over both (a key derived
from the service's signing key): opaque to the browser, unforgeable without the key, and no token that
would open the JSON API. Whether the session is still live is the database's to say, on every request
(``guard.signed_in``), so revoking the row ends the cookie at once. The CSRF token of a session is an
HMAC of its id under another derived key, so it needs no storage; before sign-in, a random value in a
cookie of its own stands in for it (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping

from quart import Response, request

from config import Keys

__all__ = [
    "LOGIN_CSRF_AGE", "LOGIN_CSRF_COOKIE", "SESSION_COOKIE", "SignedSession", "clear_session_cookie", "csrf_token",
    "new_login_csrf", "read_session_cookie", "same_token", "session_cookie", "set_cookie",
]  # fmt: skip

SESSION_COOKIE = "songtrack_session"
LOGIN_CSRF_COOKIE = "songtrack_login_csrf"
LOGIN_CSRF_AGE = 2 * 3600  # a login form left open longer than this is simply reloaded


class SignedSession:
    """The ids a valid session cookie names (not yet checked against the database)."""

    def __init__(self, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.session_id, self.user_id = session_id, user_id


def _key(keys: Keys, purpose: bytes) -> bytes:
    # One derived key per use, so a value made for one purpose never verifies for another.
    return hmac.new(keys.jwt_signing_key, b"songtrack console " + purpose, hashlib.sha256).digest()


def _mac(keys: Keys, purpose: bytes, message: bytes) -> str:
    digest = hmac.new(_key(keys, purpose), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_cookie(keys: Keys, session_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """The session cookie's value for this session row."""
    ids = session_id.bytes + user_id.bytes
    return f"{base64.urlsafe_b64encode(ids).rstrip(b'=').decode()}.{_mac(keys, b'session', ids)}"


def read_session_cookie(keys: Keys, cookies: Mapping[str, str]) -> SignedSession | None:
    """The ids in the session cookie among ``cookies`` (a request's or a WebSocket handshake's) when its
    signature holds; None without one."""
    ids_text, _, mac = (cookies.get(SESSION_COOKIE) or "").partition(".")
    try:
        ids = base64.urlsafe_b64decode(ids_text + "=" * (-len(ids_text) % 4))
    except ValueError:
        return None
    if len(ids) != 32 or not same_token(mac, _mac(keys, b"session", ids)):
        return None
    return SignedSession(uuid.UUID(bytes=ids[:16]), uuid.UUID(bytes=ids[16:]))


def csrf_token(keys: Keys, session_id: uuid.UUID) -> str:
    """The synchronizer token a signed-in session's forms carry."""
    return _mac(keys, b"csrf", session_id.bytes)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time equality; an absent token never matches."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def set_cookie(response: Response, name: str, value: str, *, max_age: int, public_url: str) -> None:
    """HttpOnly and SameSite=Lax always; Secure when the request came over https or the service's public
    URL is https (a TLS-terminating proxy in front of us speaks plain HTTP to us)."""
    secure = request.scheme == "https" or public_url.startswith("https://")
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=secure)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")

