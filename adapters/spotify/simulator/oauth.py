"""The accounts service: ``GET /authorize``, ``POST /api/token`` and bearer-token checks (PROVIDERS.md B1).

We model the authorization-code flow with PKCE (S256) and the confidential variant with Basic auth.
The sandbox consents on the user's behalf: it approves (or denies, when configured) at once and
redirects; who consents is ``sim_user``, else the next simulated listener for a fan's login
(``fan_redirect_uris``), else the label user. PKCE refresh tokens are single-use and rotate; confidential
ones are not rotated. Every refresh token dies six months after the original grant, refreshing does not
extend it. The implicit
and client-credentials grants are out of scope. Token strings come from a seeded RNG, so they are
deterministic; this is a simulator, never a security boundary.

Lifetimes are real seconds, whatever the simulator's ``speed``: a client counts ``expires_in`` on its own
clock, so a token that says 3600 must not die after a minute because the world runs 60 times faster.

"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re
import string
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import msgspec

from adapters.spotify.simulator.config import ClientApp, SimulatorConfig
from adapters.spotify.simulator.wire import Request, Response, json_response, oauth_error, redirect, text_response

__all__ = ["ACCESS_TOKEN_TTL", "CODE_TTL", "REFRESH_TOKEN_LIFETIME", "AuthServer", "Grant", "redirect_allowed", "s256"]

ACCESS_TOKEN_TTL = 3600
CODE_TTL = 600
REFRESH_TOKEN_LIFETIME = 182 * 86_400  # "6 months after the original authorization" [SP-RTEXP]
_VERIFIER = re.compile(r"[A-Za-z0-9_.\-~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{43}")
_LOOPBACK = ("127.0.0.1", "::1")
_TOKEN_CHARS = string.ascii_letters + string.digits + "-_"


class Grant(msgspec.Struct, frozen=True):
    """One user's consent to one app; tokens minted by refreshing share it (and its ``granted_at``)."""

    user_id: str
    client_id: str
    scope: str
    granted_at: float
    pkce: bool


class _Code(msgspec.Struct, frozen=True):
    grant: Grant
    redirect_uri: str
    challenge: str | None
    expires_at: float


class _Refresh(msgspec.Struct):
    grant: Grant
    revoked: bool = False


class _Access(msgspec.Struct, frozen=True):
    grant: Grant
    expires_at: float


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding: the PKCE S256 code challenge."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def redirect_allowed(requested: str, registered: tuple[str, ...]) -> bool:
    """Exact match, except that loopback ports may differ; ``localhost`` and non-loopback http never pass."""
    asked = urlsplit(requested)
    if asked.hostname == "localhost" or (asked.scheme == "http" and asked.hostname not in _LOOPBACK):
        return False
    if requested in registered:
        return True
    if asked.hostname not in _LOOPBACK:
        return False
    for uri in registered:
        known = urlsplit(uri)
        if (known.scheme, known.hostname, known.path, known.query) == (asked.scheme, asked.hostname, asked.path,
                                                                       asked.query):
            return True
    return False


class AuthServer:
    """Codes, access tokens and refresh tokens of every app, on the simulated clock ``now``."""

    def __init__(self, config: SimulatorConfig, now: Callable[[], float], users: frozenset[str],
                 default_user: str, *, fans: tuple[str, ...] = ()) -> None:
        self._config, self._now, self._users, self._default_user = config, now, users, default_user
        self._fans = itertools.cycle(fans or (default_user,))  # past the last listener, the first again
        self._scale = config.speed  # simulated seconds per real second of a lifetime (module docstring)
        self._clients = {c.client_id: c for c in config.clients}
        self._rng = random.Random(f"{config.seed}:tokens")
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}

    # -- /authorize -----------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        q = request.query
        client = self._clients.get(q.get("client_id", ""))
        if client is None:
            return text_response(400, "INVALID_CLIENT: Invalid client", "text/html")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_allowed(redirect_uri, client.redirect_uris):
            return text_response(400, "INVALID_CLIENT: Invalid redirect URI", "text/html")
        state = q.get("state")

        def back(**params: str | None) -> Response:
            query = urlencode({k: v for k, v in {**params, "state": state}.items() if v is not None})
            return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}")

        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        challenge = q.get("code_challenge")
        if challenge is not None and (q.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge)):
            return back(error="invalid_request", error_description="code_challenge must be S256 of a verifier")
        if self._config.consent == "deny":
            return back(error="access_denied")
        user_id = q.get("sim_user") or self._consenting(redirect_uri)  # sim_user: sandbox-only
        if user_id not in self._users:
            return back(error="invalid_request", error_description="unknown sim_user")
        now = self._now()
        grant = Grant(user_id, client.client_id, q.get("scope", ""), now, pkce=challenge is not None)
        code = self._token("AQ", 120)
        self._codes[code] = _Code(grant, redirect_uri, challenge, now + CODE_TTL * self._scale)
        return back(code=code)

    def _consenting(self, redirect_uri: str) -> str:
        return next(self._fans) if redirect_uri in self._config.fan_redirect_uris else self._default_user

    # -- /api/token -----------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return oauth_error(400, "unsupported_grant_type", "grant_type parameter is missing")
        form = request.form()
        client, failure = self._client(request, form)
        if failure is not None:
            return failure
        assert client is not None
        basic = "authorization" in request.headers
        match form.get("grant_type"):
            case "authorization_code":
                return self._exchange(form, client, basic)
            case "refresh_token":
                return self._refreshed(form, client)
            case None:
                return oauth_error(400, "unsupported_grant_type", "grant_type parameter is missing")
            case _:
                return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials, "
                                   "authorization_code or refresh_token")

    def _client(self, request: Request, form: dict[str, str]) -> tuple[ClientApp | None, Response | None]:
        header = request.headers.get("authorization", "")
        if header:
            try:
                client_id, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, oauth_error(400, "invalid_client", "Invalid client")
            client = self._clients.get(client_id)
            if client is None:
                return None, oauth_error(400, "invalid_client", "Invalid client")
            if secret != client.client_secret:
                return None, oauth_error(400, "invalid_client", "Invalid client secret")
            return client, None
        client = self._clients.get(form.get("client_id", ""))
        if client is None:
            return None, oauth_error(400, "invalid_client", "Invalid client")
        return client, None

    def _exchange(self, form: dict[str, str], client: ClientApp, basic: bool) -> Response:
        code = self._codes.pop(form.get("code", ""), None)  # single use, whatever happens next
        if code is None or code.expires_at < self._now() or code.grant.client_id != client.client_id:
            return oauth_error(400, "invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "invalid_grant", "Invalid redirect URI")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if verifier is None:
                return oauth_error(400, "invalid_request", "code_verifier required")
            if not _VERIFIER.fullmatch(verifier) or s256(verifier) != code.challenge:
                return oauth_error(400, "invalid_grant", "code_verifier was incorrect")
        elif not basic:
            return oauth_error(400, "invalid_client", "Invalid client secret")
        return self._issue(code.grant, with_refresh=True)

    def _refreshed(self, form: dict[str, str], client: ClientApp) -> Response:
        held = self._refresh.get(form.get("refresh_token", ""))
        if held is None or held.grant.client_id != client.client_id:
            return oauth_error(400, "invalid_grant", "Invalid refresh token")
        if held.revoked or self._now() >= held.grant.granted_at + REFRESH_TOKEN_LIFETIME * self._scale:
            return oauth_error(400, "invalid_grant", "Refresh token revoked")
        if held.grant.pkce:  # PKCE refresh tokens work once, to get the next one
            held.revoked = True
        return self._issue(held.grant, with_refresh=held.grant.pkce)

    def _issue(self, grant: Grant, *, with_refresh: bool) -> Response:
        access = self._token("BQ", 160)
        self._access[access] = _Access(grant, self._now() + ACCESS_TOKEN_TTL * self._scale)
        body: dict[str, object] = {"access_token": access, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL}
        if with_refresh:
            refresh = self._token("AQ", 131)
            self._refresh[refresh] = _Refresh(grant)
            body["refresh_token"] = refresh
        body["scope"] = grant.scope
        return json_response(200, body)

    def _token(self, prefix: str, length: int) -> str:
        return prefix + "".join(self._rng.choice(_TOKEN_CHARS) for _ in range(length))

    # -- bearer checks for /v1 ------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Grant | str:
        """The grant behind a ``Bearer`` header, or the 401 message to send."""
        if not authorization:
            return "No token provided"
        access = self._access.get(authorization.removeprefix("Bearer ").strip())
        if access is None or not authorization.startswith("Bearer "):
            return "Invalid access token"
        if self._now() >= access.expires_at:
            return "The access token expired"
        return access.grant
