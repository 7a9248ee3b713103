"""adapters.spotify.classify: every Spotify response becomes data or one typed error, and nothing waits.

Rules: responses are real ``httpx.Response`` objects built by hand, never mocks; bodies and headers are
copied verbatim from PROVIDERS.md (B1, B3) where it gives one; hypothesis checks that no status, body
or Retry-After can crash the classifier.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import adapters.spotify
from adapters.spotify import classify, transport_errors
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    ProviderError,
    RateLimitedError,
    ReauthRequiredError,
    RetryableError,
)

API = "https://api.spotify.com/v1"
TOKEN_URL = "https://accounts.spotify.com/api/token"
OUTCOMES = (RetryableError, RateLimitedError, AuthExpiredError, FatalProviderError)
QUOTA_BODY = {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}


def response(status: int, body: Any = None, *, headers: dict[str, str] | None = None,
             content: bytes | None = None, url: str = API + "/me/top/tracks") -> httpx.Response:
    request = httpx.Request("GET", url)
    if content is not None:
        return httpx.Response(status, headers=headers, content=content, request=request)
    return httpx.Response(status, headers=headers, json=body, request=request)


def raised(resp: httpx.Response) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        classify(resp)
    return info.value


def limited(resp: httpx.Response) -> RateLimitedError:
    exc = raised(resp)
    assert isinstance(exc, RateLimitedError), exc
    return exc


def test_success_has_no_usage_signal() -> None:
    assert classify(response(200, {"items": [], "next": None, "total": 0})) == ()


def test_plain_text_429_is_rate_limited_for_retry_after() -> None:
    resp = response(429, content=b"Too many requests", headers={"Retry-After": "7", "Content-Type": "text/plain"})
    assert resp.headers["content-length"] == "17"
    exc = limited(resp)
    assert (exc.domain, exc.reset_after) == ("spotify:app", 7)
    assert "Too many requests" in exc.message


@pytest.mark.parametrize("retry_after", ["79892", "22708", "86400"])
def test_quota_exceeded_429_parks_for_the_hours_retry_after_says(retry_after: str) -> None:
    exc = limited(response(429, QUOTA_BODY, headers={"Retry-After": retry_after}))
    assert (exc.domain, exc.reset_after) == ("spotify:app", float(retry_after))
    assert "QUOTA_EXCEEDED" in exc.message


def test_429_without_retry_after_assumes_five_seconds_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="adapters.spotify.classify"):
        exc = limited(response(429, content=b"Too many requests"))
    assert exc.reset_after == 5
    assert "Retry-After" in caplog.text


@pytest.mark.parametrize("retry_after", [None, "soon", "-3", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_quota_429_without_usable_retry_after_assumes_an_hour(retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    assert limited(response(429, QUOTA_BODY, headers=headers)).reset_after == 3600


def test_401_is_auth_expired_and_a_refresh_may_help() -> None:
    exc = raised(response(401, {"error": {"status": 401, "message": "The access token expired"}}))
    assert type(exc) is AuthExpiredError
    assert not getattr(exc, "needs_reauth", False)


@pytest.mark.parametrize("description", ["Refresh token revoked", "Invalid authorization code"])
def test_invalid_grant_needs_the_user_to_reconnect(description: str) -> None:
    body = {"error": "invalid_grant", "error_description": description}
    exc = raised(response(400, body, url=TOKEN_URL))
    assert isinstance(exc, ReauthRequiredError) and isinstance(exc, AuthExpiredError)
    assert exc.needs_reauth is True
    assert description in exc.message


@pytest.mark.parametrize("status", [400, 401])
def test_other_oauth_errors_are_fatal(status: int) -> None:
    body = {"error": "invalid_client", "error_description": "Invalid client"}
    assert type(raised(response(status, body, url=TOKEN_URL))) is FatalProviderError


@pytest.mark.parametrize(("status", "body"), [
    (403, {"error": {"status": 403}}),
    (403, {"error": {"status": 403, "message": "Forbidden"}}),
    (404, {"error": {"status": 404, "message": "Service not found"}}),
    (400, {"error": {"status": 400, "message": "Invalid limit"}}),
    (410, None),
])
def test_client_errors_are_fatal(status: int, body: Any) -> None:
    assert type(raised(response(status, body))) is FatalProviderError


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retryable(status: int) -> None:
    exc = raised(response(status, content=b"<html>upstream connect error</html>"))
    assert type(exc) is RetryableError
    assert exc.retry_after is None


def test_a_503_retry_after_is_passed_on() -> None:
    exc = raised(response(503, {"error": {"status": 503, "message": "Service unavailable"}},
                          headers={"Retry-After": "30"}))
    assert type(exc) is RetryableError
    assert exc.retry_after == 30


async def test_timeouts_become_retryable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(timeout)) as client:
        with pytest.raises(RetryableError) as info, transport_errors():
            await client.get(API + "/me")
    assert isinstance(info.value.__cause__, httpx.ConnectTimeout)


def test_the_package_exports() -> None:
    assert sorted(adapters.spotify.__all__) == ["APP_DOMAIN", "AuthorizationDenied", "PagedEndpoint",
                                                "SpotifyClient", "TokenProvider", "TokenSet", "classify",
                                                "spotify_window", "transport_errors"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)
spotify_bodies = st.builds(
    lambda error, description: {"error": error, "error_description": description},
    st.sampled_from(["invalid_grant", "invalid_client"]) | st.fixed_dictionaries(
        {}, optional={"status": json_values, "message": json_values,
                      "reason": st.sampled_from(["QUOTA_EXCEEDED", "NO_ACTIVE_DEVICE"]) | json_values}),
    json_values,
)
bodies = (st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode())
          | spotify_bodies.map(lambda v: json.dumps(v).encode()))
retry_afters = st.none() | st.text().filter(str.isascii) | st.integers().map(str) | st.floats().map(str)


@given(st.integers(min_value=100, max_value=599), bodies, retry_afters)
def test_every_response_is_data_or_exactly_one_error(status: int, content: bytes, retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    try:
        signals = classify(response(status, content=content, headers=headers))
    except OUTCOMES as exc:
        assert not 200 <= status < 300
        assert sum(isinstance(exc, outcome) for outcome in OUTCOMES) == 1
        if isinstance(exc, RateLimitedError):
            assert status == 429
            assert exc.domain == "spotify:app"
            assert math.isfinite(exc.reset_after) and exc.reset_after >= 0
    else:
        assert 200 <= status < 300
        assert signals == ()


@given(st.integers(min_value=0, max_value=10**8))
def test_retry_after_seconds_are_taken_as_given(seconds: int) -> None:
    assert limited(response(429, content=b"Too many requests", headers={"Retry-After": str(seconds)})).reset_after == (
        seconds
    )
