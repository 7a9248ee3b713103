"""Client-side shortcuts for the sandbox, benchmarks and tests: log a simulated user in over HTTP.

It talks to the simulator only through its HTTP surface (``/authorize`` then ``/api/token``, PKCE),
exactly as a real client would, plus the sandbox-only ``sim_user`` parameter that says who consents.
It never reaches into the simulator's state.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec

from adapters.spotify.simulator.config import ClientApp

__all__ = ["ALL_SCOPES", "LoginError", "TokenSet", "pkce_login", "pkce_pair"]

ALL_SCOPES = "user-read-private user-read-email user-top-read user-library-read user-read-recently-played"


class TokenSet(msgspec.Struct, frozen=True):
    """``/api/token``'s answer, as Spotify sends it."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


class LoginError(Exception):
    """The simulator refused the login; ``detail`` is its redirect query or error body."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def pkce_pair(verifier: str | None = None) -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for S256; a fresh 64-character verifier by default."""
    verifier = verifier or secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def pkce_login(http: httpx.AsyncClient, user_id: str | None = None, *, app: ClientApp | None = None,
                     scope: str = ALL_SCOPES, redirect_uri: str | None = None) -> TokenSet:
    """Runs authorize → code → token for ``user_id`` (the label user by default) and returns the tokens.

    ``http`` must have the simulator as its base URL. Raises ``LoginError`` on any refusal.
    """
    app = app or ClientApp()
    redirect_uri = redirect_uri or app.redirect_uris[0]
    verifier, challenge = pkce_pair()
    params = {"client_id": app.client_id, "response_type": "code", "redirect_uri": redirect_uri,
              "state": secrets.token_hex(8), "scope": scope, "code_challenge_method": "S256",
              "code_challenge": challenge}
    if user_id is not None:
        params["sim_user"] = user_id
    answer = await http.get("/authorize", params=params)
    query = parse_qs(urlsplit(answer.headers.get("location", "")).query)
    if answer.status_code != 302 or "code" not in query:
        raise LoginError(answer.headers.get("location") or answer.text)
    token = await http.post("/api/token", data={"grant_type": "authorization_code", "code": query["code"][0],
                                                "redirect_uri": redirect_uri, "client_id": app.client_id,
                                                "code_verifier": verifier})
    if token.status_code != 200:
        raise LoginError(token.text)
    return msgspec.json.decode(token.content, type=TokenSet)
