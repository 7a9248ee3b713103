"""Facebook Login (PROVIDERS.md A1): the dialog URL with a signed, expiring ``state``, and the token calls.

It owns the CSRF ``state`` (Meta only echoes it back, so we must sign and check it), the code exchange,
the long-lived exchange (``fb_exchange_token``) and ``debug_token``. It does not store tokens or
schedule refreshes. Token calls go through ``classify`` like every Graph call; they never retry.

State format: ``base64url(user_id) "." expiry "." nonce "." hex(HMAC-SHA256(key, everything before))``.
The MAC covers the exact text, so any changed character fails; expiry is Unix seconds, passed in.
Making a state single-use (remembering spent nonces) is the caller's job: it needs storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import urlencode

import httpx

from adapters.meta import schemas
from adapters.meta.schemas import DebugToken, TokenGrant
from adapters.meta.transport import GraphTransport
from engine.provider import Result

__all__ = ["InvalidState", "MetaOAuth", "StateSigner", "login_url"]

DEFAULT_SCOPES = ("ads_read", "ads_management", "business_management")
_NONCE_BYTES = 16


class InvalidState(ValueError):
    """A login ``state`` that was tampered with, malformed, signed with another key, or expired."""


class StateSigner:
    """Signs and verifies login ``state`` values with ``key`` (at least 32 bytes, from settings)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the state key needs at least 32 bytes")
        self._key = key

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode("ascii"), hashlib.sha256).hexdigest()

    def sign(self, user_id: str, *, now: float, ttl_s: int = 600, nonce: str | None = None) -> str:
        """A state for ``user_id`` valid until ``now + ttl_s`` (Unix seconds). ``nonce`` defaults to a random one."""
        if nonce is not None and (not nonce or not nonce.isascii() or "." in nonce):
            raise ValueError("a nonce is non-empty ASCII without dots")
        encoded = base64.urlsafe_b64encode(user_id.encode()).decode("ascii")
        text = f"{encoded}.{int(now) + ttl_s}.{nonce or secrets.token_hex(_NONCE_BYTES)}"
        return f"{text}.{self._mac(text)}"

    def verify(self, state: str, *, now: float) -> str:
        """The user id ``state`` was signed for; raises ``InvalidState`` if tampered, malformed or expired."""
        if not state.isascii() or state.count(".") != 3:
            raise InvalidState("malformed state")
        text, _, mac = state.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(text)):
            raise InvalidState("state signature mismatch")
        encoded, expiry, _nonce = text.split(".")
        if not expiry.isdigit() or int(expiry) <= now:
            raise InvalidState("state expired")
        try:
            return base64.urlsafe_b64decode(encoded.encode("ascii")).decode()
        except (binascii.Error, UnicodeDecodeError):  # only reachable with our own key: a bug upstream
            raise InvalidState("malformed state") from None


def login_url(app_id: str, redirect_uri: str, state: str, *, scopes: Sequence[str] = DEFAULT_SCOPES,
              version: str = "v25.0", dialog_base: str = "https://www.facebook.com") -> str:
    """The Login dialog URL; Meta redirects to ``redirect_uri?code=…&state=…`` (or ``error=access_denied``)."""
    query = urlencode({"client_id": app_id, "redirect_uri": redirect_uri, "state": state,
                       "scope": ",".join(scopes), "response_type": "code"})
    return f"{dialog_base.rstrip('/')}/{version}/dialog/oauth?{query}"


class MetaOAuth:
    """The token endpoints of one app. ``http`` is owned by the caller; construction does no I/O.

    Error handling: every call raises ``engine.provider`` errors via ``classify``; a bad, used or
    expired code is (#100) → ``FatalProviderError``; an expired short-lived token given to
    ``exchange_long_lived`` is ``AuthExpiredError``.
    """

    def __init__(self, http: httpx.AsyncClient, app_id: str, app_secret: str, *,
                 base_url: str = "https://graph.facebook.com", version: str = "v25.0") -> None:
        self._app_id, self._app_secret = app_id, app_secret
        # The token endpoints authenticate the app by client_secret; the Bearer header is the app token.
        self._graph = GraphTransport(http, f"{app_id}|{app_secret}", base_url=base_url, version=version)

    async def exchange_code(self, code: str, redirect_uri: str) -> Result[TokenGrant]:
        """Code → short-lived user token. ``redirect_uri`` must be byte-identical to the dialog's."""
        return await self._graph.get("oauth/access_token", schemas.TOKEN_GRANT, {
            "client_id": self._app_id, "client_secret": self._app_secret,
            "redirect_uri": redirect_uri, "code": code})

    async def exchange_long_lived(self, short_lived_token: str) -> Result[TokenGrant]:
        """Short-lived → long-lived (about 60 days) user token; an expired token cannot be exchanged."""
        return await self._graph.get("oauth/access_token", schemas.TOKEN_GRANT, {
            "grant_type": "fb_exchange_token", "client_id": self._app_id, "client_secret": self._app_secret,
            "fb_exchange_token": short_lived_token})

    async def debug_token(self, input_token: str) -> Result[DebugToken]:
        """What Meta knows of ``input_token`` (validity, expiry, scopes), asked with the app token."""
        result = await self._graph.get("debug_token", schemas.DEBUG_TOKEN, {"input_token": input_token})
        return Result(result.data.data, result.signals)
