"""Spotify's authorization code flow with PKCE (S256) on the client side: the verifier and challenge,
the authorize URL, the callback, the code exchange and the refresh (PROVIDERS.md B1).

It owns no tokens and no clock: callers store the ``TokenSet`` we return and pass ``now`` in. We never
retry, sleep or refresh on our own; every accounts-service answer goes through ``classify``, so a dead
refresh token (``invalid_grant``) surfaces as ``ReauthRequiredError`` and the user must re-connect.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import msgspec

from adapters.spotify.classify import classify, transport_errors
from engine.provider import FatalProviderError

__all__ = [
    "ACCOUNTS_URL",
    "TOKEN_URL",
    "AuthorizationDenied",
    "TokenSet",
    "authorize_url",
    "code_from_callback",
    "exchange_code",
    "needs_refresh",
    "pkce_pair",
    "refresh",
    "s256",
]

ACCOUNTS_URL = "https://accounts.spotify.com"
TOKEN_URL = f"{ACCOUNTS_URL}/api/token"
_VERIFIER_BYTES = 64  # token_urlsafe(64) is 86 characters of [A-Za-z0-9_-], inside RFC 7636's 43..128


class TokenSet(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller stores per connected account. ``expires_at`` is wall-clock Unix seconds."""

    access_token: str
    refresh_token: str
    expires_at: float
    scope: str = ""


class AuthorizationDenied(Exception):
    """The callback carried ``error`` (``access_denied``…) or a ``state`` we did not send."""


class _TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: float
    token_type: str = "Bearer"
    scope: str = ""
    refresh_token: str | None = None


_token_decoder = msgspec.json.Decoder(_TokenResponse, strict=False)


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)``: 86 random URL-safe characters and their S256."""
    verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
    return verifier, s256(verifier)


def authorize_url(client_id: str, redirect_uri: str, scopes: Iterable[str], state: str, challenge: str,
                  base: str = ACCOUNTS_URL, *, show_dialog: bool = False) -> str:
    """The URL to send the user's browser to; Spotify redirects back to ``redirect_uri``."""
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "state": state,
              "scope": " ".join(scopes), "code_challenge_method": "S256", "code_challenge": challenge}
    if show_dialog:
        params["show_dialog"] = "true"
    return f"{base.rstrip('/')}/authorize?{urlencode(params)}"


def code_from_callback(url: str, state: str) -> str:
    """The ``code`` of the redirect back to us. Raises ``AuthorizationDenied`` on an ``error``
    (the user said no), a missing code, or a ``state`` that is not ours (CSRF)."""
    query = parse_qs(urlsplit(url).query)
    if query.get("state") != [state]:
        raise AuthorizationDenied("state mismatch")
    if "error" in query:
        raise AuthorizationDenied(query["error"][0])
    if "code" not in query:
        raise AuthorizationDenied("no code in callback")
    return query["code"][0]


async def exchange_code(http: httpx.AsyncClient, *, code: str, verifier: str, redirect_uri: str, client_id: str,
                        token_url: str = TOKEN_URL, now: Callable[[], float] = time.time) -> TokenSet:
    """Trade the authorization code for tokens.

    Error handling: whatever ``classify`` raises (a used or expired code is ``invalid_grant``, hence
    ``ReauthRequiredError``: the user logs in again); ``RetryableError`` on a network failure;
    ``FatalProviderError`` if a 200 lacks a refresh token or is not the token JSON.
    """
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id,
            "code_verifier": verifier}
    answer = await _post(http, token_url, form)
    if answer.refresh_token is None:
        raise FatalProviderError("spotify: the code exchange returned no refresh_token")
    return _token_set(answer, answer.refresh_token, now())


async def refresh(http: httpx.AsyncClient, *, refresh_token: str, client_id: str, token_url: str = TOKEN_URL,
                  now: Callable[[], float] = time.time) -> TokenSet:
    """A new access token. PKCE refresh tokens are single-use: when a new one comes back the returned
    ``TokenSet`` carries it and the caller must store it; otherwise it carries ``refresh_token``.

    Error handling: ``ReauthRequiredError`` on ``invalid_grant`` (revoked, already used, or past the
    six months after the original grant); otherwise as ``exchange_code``.
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    answer = await _post(http, token_url, form)
    return _token_set(answer, answer.refresh_token or refresh_token, now())


def needs_refresh(tokens: TokenSet, now: float, skew: float = 60.0) -> bool:
    """True once fewer than ``skew`` seconds of the access token remain (spotipy's 60 s rule)."""
    return now >= tokens.expires_at - skew


async def _post(http: httpx.AsyncClient, url: str, form: dict[str, str]) -> _TokenResponse:
    with transport_errors():
        response = await http.post(url, data=form)  # httpx sends application/x-www-form-urlencoded
    classify(response)
    try:
        return _token_decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        raise FatalProviderError(f"spotify: unexpected token response: {exc}") from exc


def _token_set(answer: _TokenResponse, refresh_token: str, now: float) -> TokenSet:
    return TokenSet(access_token=answer.access_token, refresh_token=refresh_token,
                    expires_at=now + answer.expires_in, scope=answer.scope)
