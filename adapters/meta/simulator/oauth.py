"""Facebook Login and tokens (PROVIDERS.md A1): the dialog, the code exchange, long-lived tokens, debug_token,
and a user's permissions (listing them, and revoking them all: ``DELETE /me/permissions``).

It owns codes and tokens on the simulated clock and the 190 errors for bad tokens. The sandbox dialog
never shows a page: it approves at once (or denies, when configured). Scopes are recorded, not enforced.
Lifetimes are real seconds, whatever ``speed``: a client counts ``expires_in`` on its own clock, so a
token must not die 60 times sooner because the world runs 60 times faster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from .clock import Clock
from .config import SimulatorConfig
from .graph import GraphError, Request, Response, invalid_param, json_response

__all__ = ["ALL_SCOPES", "OAuth", "Token"]

ALL_SCOPES = ("ads_read", "ads_management", "business_management", "pages_show_list", "pages_read_engagement")
_DATA_ACCESS_S = 90 * 86400


@dataclass(slots=True)
class Token:
    value: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float  # 0: never
    long_lived: bool = False


@dataclass(slots=True)
class _Code:
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def _token_error(message: str, subcode: int | None) -> GraphError:
    header = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return GraphError(message, code=190, subcode=subcode, headers=[("www-authenticate", header)])


class OAuth:
    """Codes and tokens of the one simulated app (``config.app_id``) and its one sandbox user."""

    def __init__(self, config: SimulatorConfig, clock: Clock, rng: random.Random) -> None:
        self._config, self._clock, self._rng = config, clock, rng
        self.user_id = "10" + "".join(str(rng.randrange(10)) for _ in range(14))
        self._codes: dict[str, _Code] = {}
        self.tokens = {t: Token(t, self.user_id, ALL_SCOPES, clock.now(), 0.0, True) for t in config.access_tokens}

    def issue(self, values: list[str]) -> None:
        """Pre-issue more never-expiring tokens with every scope, like ``config.access_tokens``."""
        now = self._clock.now()
        self.tokens.update({t: Token(t, self.user_id, ALL_SCOPES, now, 0.0, True) for t in values})

    def _real(self, seconds: float) -> float:
        """``seconds`` of the client's clock, in simulated seconds (see the module docstring). At speed 0
        the simulated clock stands still, so the lifetime is kept as given."""
        return seconds * (self._config.speed or 1.0)

    def _secret(self, prefix: str, length: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(length))

    def authenticate(self, request: Request) -> Token:
        """The valid token of ``request``; raises GraphError 104 (none), 190/467 (unknown), 190/463 (expired)."""
        value, now = request.token, self._clock.now()
        if not value:
            raise GraphError("An access token is required to request this resource.", code=104)
        token = self.tokens.get(value)
        if token is None:
            raise _token_error(
                "Error validating access token: The session is invalid because the user logged out.", 467
            )
        if token.expires_at and token.expires_at <= now:
            raise _token_error(
                f"Error validating access token: Session has expired on {_stamp(token.expires_at)}. "
                f"The current time is {_stamp(now)}.",
                463,
            )
        return token

    def route(self, request: Request) -> Response | None:
        """Answer the OAuth endpoints; None for any other path."""
        handlers = {
            "/dialog/oauth": self._dialog,
            "/oauth/access_token": self._access_token,
            "/debug_token": self._debug_token,
        }
        if request.path in ("/me/permissions", f"/{self.user_id}/permissions"):
            return self._permissions(request)
        handler = handlers.get(request.path)
        return handler(request) if handler else None

    def _permissions(self, request: Request) -> Response:
        """``GET`` lists the token's grants; ``DELETE`` deauthorizes the app for its user: every token of
        that user dies at once (later calls get 190/467), and the answer is ``{"success": true}``."""
        token = self.authenticate(request)
        if request.method == "GET":
            return json_response({"data": [{"permission": s, "status": "granted"} for s in token.scopes]})
        if request.method != "DELETE":
            raise GraphError(f"Unsupported {request.method.lower()} request.", code=100, type="GraphMethodException")
        self.tokens = {value: t for value, t in self.tokens.items() if t.user_id != token.user_id}
        return json_response({"success": True})

    def _check_app(self, request: Request, *, secret: bool) -> None:
        if request.params.get("client_id") != self._config.app_id:
            raise GraphError("Error validating application. Invalid application ID.", code=101)
        if secret and request.params.get("client_secret") != self._config.app_secret:
            raise GraphError("Error validating client secret.", code=1)

    def _dialog(self, request: Request) -> Response:
        self._check_app(request, secret=False)
        redirect_uri = request.params.get("redirect_uri")
        if not redirect_uri:
            raise invalid_param("Missing redirect_uri parameter.")
        state = request.params.get("state", "")
        if self._config.deny_consent:
            query = {
                "error_reason": "user_denied",
                "error": "access_denied",
                "error_description": "Permissions error",
                "state": state,
            }
        else:
            code = self._secret("AQ", 48)
            scopes = tuple(s for s in request.params.get("scope", "").replace(" ", ",").split(",") if s)
            self._codes[code] = _Code(redirect_uri, scopes, self._clock.now() + self._real(self._config.code_ttl_s))
            query = {"code": code, "state": state}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", [("location", redirect_uri + separator + urlencode(query))], "text/html")

    def _issue(self, scopes: tuple[str, ...], *, long_lived: bool) -> Response:
        now = self._clock.now()
        ttl = self._config.long_token_ttl_s if long_lived else self._config.short_token_ttl_s
        token = Token(self._secret("EAAB", 64), self.user_id, scopes, now, now + self._real(ttl), long_lived)
        self.tokens[token.value] = token
        return json_response({"access_token": token.value, "token_type": "bearer", "expires_in": ttl})

    def _access_token(self, request: Request) -> Response:
        params = request.params
        if params.get("grant_type") == "client_credentials":
            self._check_app(request, secret=True)
            return json_response(
                {"access_token": f"{self._config.app_id}|{self._config.app_secret}", "token_type": "bearer"}
            )
        self._check_app(request, secret=True)
        if params.get("grant_type") == "fb_exchange_token":
            short = self.authenticate(
                Request("GET", "/", None, {"access_token": params.get("fb_exchange_token", "")}, {}, request.origin)
            )
            return self._issue(short.scopes, long_lived=True)
        code = self._codes.get(params.get("code", ""))
        if code is None:
            raise invalid_param("Invalid verification code format.", 36008)
        if code.redirect_uri != params.get("redirect_uri"):
            raise invalid_param(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                36008,
            )
        if code.used:
            raise invalid_param("This authorization code has been used.", 36009)
        if code.expires_at <= self._clock.now():
            raise invalid_param("This authorization code has expired.", 36007)
        code.used = True
        return self._issue(code.scopes, long_lived=False)

    def _debug_token(self, request: Request) -> Response:
        app_token = f"{self._config.app_id}|{self._config.app_secret}"
        if request.token != app_token:
            self.authenticate(request)
        token, now = self.tokens.get(request.params.get("input_token", "")), self._clock.now()
        if token is None:
            return json_response(
                {
                    "data": {
                        "error": {"code": 190, "message": "Invalid OAuth access token."},
                        "is_valid": False,
                        "scopes": [],
                    }
                }
            )
        data: dict[str, object] = {
            "app_id": self._config.app_id,
            "type": "USER",
            "application": "SongTrackPro Simulator",
            "data_access_expires_at": int(token.issued_at + _DATA_ACCESS_S),
            "expires_at": int(token.expires_at),
            "is_valid": not token.expires_at or token.expires_at > now,
            "scopes": list(token.scopes),
            "granular_scopes": [{"scope": s} for s in token.scopes],
            "user_id": token.user_id,
        }
        if token.long_lived:
            data["issued_at"] = int(token.issued_at)
        return json_response({"data": data})
