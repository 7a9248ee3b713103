"""The one place a Spotify response (Web API or accounts service) becomes data or a typed error.

``classify`` is the Singer SDK's ``validate_response`` without the sleeping: it never waits, however
long ``Retry-After`` is (spotipy's unbounded sleeps are the lesson, PROVIDERS.md B5). Spotify sends no
usage headers, so ``spotify:app`` utilization is unknown and a success yields no signal.

Domain: ``spotify:app``, the app's rolling 30-second rate limit and (dev mode) the developer account's
daily quota; both answer 429, and the governor parks the domain for ``reset_after``.

    response                                            raises                       delay (seconds)
    429, any body (JSON, plain "Too many requests", none) RateLimitedError(spotify:app)  Retry-After;
                                                                                      if absent: 3600
                                                                                      for QUOTA_EXCEEDED,
                                                                                      else 5 (logged)
    OAuth body {"error": "invalid_grant"}               ReauthRequiredError          the user re-connects
                                                          (an AuthExpiredError, needs_reauth = True)
    other OAuth body {"error": "<code>"}, 4xx           FatalProviderError           our client config
    401                                                 AuthExpiredError             refresh the token
    5xx, 408                                            RetryableError               Retry-After, else None
    any other non-2xx (400, 403, 404, …)                FatalProviderError

A short ``Retry-After`` is the rolling limit and hours mean the daily quota (since 2026-07 the body's
``reason`` says which); either way it is a ``RateLimitedError`` and the engine decides whether to sleep
or park. Without ``Retry-After`` a quota 429 gets an hour (the quota is daily; an hour bounds how long
we guess wrong), a plain 429 five seconds, a sixth of the 30-second window.
"""

from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager

import httpx
import msgspec

from adapters.transport import network_errors
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    ProviderError,
    RateLimitedError,
    ReauthRequiredError,
    RetryableError,
    UsageSignal,
)

__all__ = ["APP_DOMAIN", "classify", "spotify_window", "transport_errors"]

logger = logging.getLogger(__name__)

APP_DOMAIN = "spotify:app"
_WINDOW = 30.0  # seconds: the app's rolling rate-limit window

_DEFAULT_RETRY_AFTER = 5.0
_DEFAULT_QUOTA_RESET = 3600.0
_QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
_INVALID_GRANT = "invalid_grant"
_RETRY_AFTER = re.compile(r"\s*(\d{1,9}(?:\.\d+)?)\s*")  # delta-seconds; Spotify sends no HTTP-dates
_SNIPPET_CHARS = 300


class _ApiError(msgspec.Struct):
    status: int | None = None
    message: str | None = None
    reason: str | None = None


class _ErrorBody(msgspec.Struct):
    # Web API: {"error": {"status", "message", "reason"?}}; accounts service: {"error": "<code>", ...}.
    error: _ApiError | str | None = None
    error_description: str | None = None


_body_decoder = msgspec.json.Decoder(_ErrorBody, strict=False)


def classify(response: httpx.Response) -> tuple[UsageSignal, ...]:
    """Return ``()`` for a 2xx response (Spotify reports no usage); raise a ``ProviderError`` otherwise.

    The body must already be read. Error handling: raises ``RateLimitedError``, ``ReauthRequiredError``
    or ``AuthExpiredError``, ``RetryableError`` or ``FatalProviderError`` per the module docstring's
    table; nothing else, whatever the body.
    """
    if response.is_success:
        return ()
    raise _error(response)


def spotify_window(domain: str) -> float:
    """The accounting window of a Spotify rate domain, for the ``Pacer`` every Spotify actor shares: the
    app's rolling 30 seconds (the only domain, ``spotify:app``)."""
    return _WINDOW


def transport_errors() -> AbstractContextManager[None]:
    """httpx timeouts and network failures inside the block become ``RetryableError``."""
    return network_errors("spotify")


def _error(response: httpx.Response) -> ProviderError:
    status = response.status_code
    body = _decode_body(response.content)
    detail = f"spotify HTTP {status}: {_message(body, response)}"
    if status == 429:
        return _rate_limited(response, body, detail)
    if isinstance(body.error, str) and status < 500:  # the accounts service's OAuth error shape
        if body.error == _INVALID_GRANT:
            return ReauthRequiredError(detail)
        return FatalProviderError(detail)  # invalid_client and friends: our configuration is wrong
    if status == 401:
        return AuthExpiredError(detail)
    if status >= 500 or status == 408:
        return RetryableError(detail, retry_after=_retry_after(response.headers))
    return FatalProviderError(detail)


def _rate_limited(response: httpx.Response, body: _ErrorBody, detail: str) -> RateLimitedError:
    quota = isinstance(body.error, _ApiError) and body.error.reason == _QUOTA_EXCEEDED
    reset_after = _retry_after(response.headers)
    if reset_after is None:
        reset_after = _DEFAULT_QUOTA_RESET if quota else _DEFAULT_RETRY_AFTER
        logger.info("spotify 429 without a usable Retry-After (%r); assuming %s s",
                    response.headers.get("retry-after"), reset_after)
    return RateLimitedError(detail, domain=APP_DOMAIN, reset_after=reset_after)


def _decode_body(content: bytes) -> _ErrorBody:
    try:
        return _body_decoder.decode(content)
    except msgspec.DecodeError:  # plain text "Too many requests", HTML from a proxy, empty, or odd JSON
        return _ErrorBody()


def _message(body: _ErrorBody, response: httpx.Response) -> str:
    if isinstance(body.error, _ApiError):
        reason = f" ({body.error.reason})" if body.error.reason else ""
        text = f"{body.error.message or '(no message)'}{reason}"
    elif isinstance(body.error, str):
        text = f"{body.error}: {body.error_description or ''}"
    else:
        text = response.content[:_SNIPPET_CHARS].decode("utf-8", "replace").strip() or "(empty body)"
    return text[:_SNIPPET_CHARS]


def _retry_after(headers: httpx.Headers) -> float | None:
    match = _RETRY_AFTER.fullmatch(headers.get("retry-after", ""))
    return float(match.group(1)) if match else None
