"""adapters.meta.classify and adapters.meta.usage: every Graph response becomes data or one typed error.

Rules: responses are real ``httpx.Response`` objects built by hand, never mocks; headers and bodies are
copied verbatim from PROVIDERS.md (A1, A2, A3, A4) where it gives one; each mapping row of the
classify docstring has an example; hypothesis checks that no header or body can crash us.
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

import adapters.meta
from adapters.meta import ReduceDataError, classify, read_usage, transport_errors, usage_signals
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    ProviderError,
    RateLimitedError,
    RetryableError,
    UsageSignal,
)

GRAPH = "https://graph.facebook.com/v25.0"
OUTCOMES = (RetryableError, RateLimitedError, AuthExpiredError, FatalProviderError)

APP_USAGE = '{"call_count":28,"total_time":25,"total_cputime":25}'
ACCOUNT_USAGE = '{"acc_id_util_pct":9.67,"reset_time_duration":100,"ads_api_access_tier":"standard_access"}'
BUC_USAGE = (
    '{"123":[{"type":"ads_management","call_count":95,"total_cputime":20,"total_time":20,'
    '"estimated_time_to_regain_access":0,"ads_api_access_tier":"development_access"}]}'
)
INSIGHTS_THROTTLE = '{"app_id_util_pct":100,"acc_id_util_pct":10,"ads_api_access_tier":"standard_access"}'
MSG_80004 = (
    "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. "
    "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
)


def response(status: int, body: Any = None, *, headers: dict[str, str] | None = None,
             content: bytes | None = None, path: str = "/act_123/insights") -> httpx.Response:
    request = httpx.Request("GET", GRAPH + path)
    if content is not None:
        return httpx.Response(status, headers=headers, content=content, request=request)
    return httpx.Response(status, headers=headers, json=body, request=request)


def graph_error(code: int, subcode: int | None = None, message: str = "", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": "AbCdEf123", **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def raised(resp: httpx.Response, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        classify(resp, **kwargs)
    return info.value


def limited(resp: httpx.Response, **kwargs: Any) -> RateLimitedError:
    exc = raised(resp, **kwargs)
    assert isinstance(exc, RateLimitedError), exc
    return exc


# --- usage headers on success ----------------------------------------------------------------------


def test_success_returns_the_signals_of_all_four_headers() -> None:
    headers = {"X-App-Usage": APP_USAGE, "X-Ad-Account-Usage": ACCOUNT_USAGE,
               "X-Business-Use-Case-Usage": BUC_USAGE, "X-FB-Ads-Insights-Throttle": INSIGHTS_THROTTLE}
    signals = classify(response(200, {"data": []}, headers=headers))
    assert signals == (
        UsageSignal(domain="meta:app", utilization=28),
        UsageSignal(domain="meta:act_123:score", utilization=9.67, regain_after=100),
        UsageSignal(domain="meta:act_123:ads_management", utilization=95, regain_after=0),
        UsageSignal(domain="meta:insights:app", utilization=100),
        UsageSignal(domain="meta:act_123:insights", utilization=10),
    )


def test_app_usage_takes_the_largest_of_the_three_percentages() -> None:
    headers = {"x-app-usage": '{"call_count":28,"total_time":25,"total_cputime":97}'}
    assert usage_signals(httpx.Headers(headers)) == (UsageSignal(domain="meta:app", utilization=97),)


def test_buc_regain_minutes_become_seconds_and_other_objects_keep_their_id() -> None:
    header = json.dumps({
        "123": [{"type": "ads_insights", "call_count": 101, "total_cputime": 20, "total_time": 20,
                 "estimated_time_to_regain_access": 7}],
        "98765": [{"type": "pages", "call_count": 3, "total_cputime": 5, "total_time": 4}],
    })
    signals = usage_signals({"X-Business-Use-Case-Usage": header}, "act_123")
    assert signals == (
        UsageSignal(domain="meta:act_123:ads_insights", utilization=101, regain_after=420),
        UsageSignal(domain="meta:98765:pages", utilization=5),
    )


def test_account_id_comes_from_the_argument_or_else_the_request_path() -> None:
    headers = {"X-Ad-Account-Usage": ACCOUNT_USAGE}
    assert classify(response(200, {}, headers=headers, path="/act_555/ads"))[0].domain == "meta:act_555:score"
    assert classify(response(200, {}, headers=headers, path="/me"), account_id="777")[0].domain == (
        "meta:act_777:score"
    )


def test_account_signals_are_skipped_without_a_known_account() -> None:
    headers = {"X-Ad-Account-Usage": ACCOUNT_USAGE, "X-FB-Ads-Insights-Throttle": INSIGHTS_THROTTLE}
    assert classify(response(200, {}, headers=headers, path="/1234567/insights")) == (
        UsageSignal(domain="meta:insights:app", utilization=100),
    )


def test_a_malformed_header_is_skipped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    headers = {"X-App-Usage": "{not json", "X-Ad-Account-Usage": ACCOUNT_USAGE,
               "X-Business-Use-Case-Usage": '{"123":[{"type":"ads_management","call_count":"lots"}]}'}
    with caplog.at_level(logging.DEBUG, logger="adapters.meta.usage"):
        signals = classify(response(200, {"data": [1]}, headers=headers))
    assert signals == (UsageSignal(domain="meta:act_123:score", utilization=9.67, regain_after=100),)
    assert "x-app-usage" in caplog.text
    assert "x-business-use-case-usage" in caplog.text


def test_numbers_sent_as_strings_are_read() -> None:
    assert usage_signals({"X-App-Usage": '{"call_count":"28","total_time":"25"}'}) == (
        UsageSignal(domain="meta:app", utilization=28),
    )


# --- ad-account score block ------------------------------------------------------------------------


def test_17_2446079_waits_reset_time_duration_seconds_from_the_header() -> None:
    body = graph_error(17, 2446079, "User request limit reached", is_transient=True)
    exc = limited(response(400, body, headers={"X-Ad-Account-Usage": ACCOUNT_USAGE}))
    assert (exc.domain, exc.reset_after) == ("meta:act_123:score", 100)
    assert UsageSignal(domain="meta:act_123:score", utilization=9.67, regain_after=100) in exc.signals


@pytest.mark.parametrize(("tier", "reset_after"), [("development_access", 300), ("standard_access", 60)])
def test_17_2446079_without_reset_time_waits_the_tier_block(tier: str, reset_after: float) -> None:
    body = graph_error(17, 2446079, "Ad Account Has Too Many API Calls", is_transient=False)
    throttle = json.dumps({"app_id_util_pct": 10, "acc_id_util_pct": 100, "ads_api_access_tier": tier})
    exc = limited(response(400, body, headers={"X-FB-Ads-Insights-Throttle": throttle}))
    assert (exc.domain, exc.reset_after) == ("meta:act_123:score", reset_after)


def test_score_block_without_headers_waits_300_seconds() -> None:
    body = graph_error(613, 1487742, "There have been too many calls from this ad-account. "
                                     "Please wait a bit and try again.")
    exc = limited(response(400, body, path="/me/adaccounts"))
    assert (exc.domain, exc.reset_after) == ("meta:unknown:score", 300)


def test_is_transient_never_changes_the_outcome() -> None:
    for transient in (True, False):
        assert type(raised(response(400, graph_error(17, 2446079, is_transient=transient)))) is RateLimitedError
        assert type(raised(response(400, graph_error(100, 2804003, is_transient=transient)))) is (
            FatalProviderError
        )


# --- BUC, app, insights and mutation limits --------------------------------------------------------


def test_80004_waits_the_buc_regain_time_of_its_type() -> None:
    buc = json.dumps({"123": [
        {"type": "ads_insights", "call_count": 20, "estimated_time_to_regain_access": 0},
        {"type": "ads_management", "call_count": 118, "total_cputime": 20, "total_time": 20,
         "estimated_time_to_regain_access": 5, "ads_api_access_tier": "development_access"},
    ]})
    exc = limited(response(400, graph_error(80004, 2446079, MSG_80004),
                           headers={"X-Business-Use-Case-Usage": buc}, path="/act_123/campaigns"))
    assert (exc.domain, exc.reset_after) == ("meta:act_123:ads_management", 300)
    assert "80004" in exc.message


@pytest.mark.parametrize(("code", "buc_type"), [(80000, "ads_insights"), (80003, "custom_audience"),
                                                (80004, "ads_management"), (32, "pages")])
def test_buc_codes_without_a_regain_estimate_wait_ten_minutes(code: int, buc_type: str) -> None:
    message = f"({code}) There have been too many calls from this ad-account. Wait a bit and try again."
    exc = limited(response(400, graph_error(code, 2446079, message)), account_id="123")
    assert (exc.domain, exc.reset_after) == (f"meta:act_123:{buc_type}", 600)


def test_code_4_is_the_app_limit_even_with_a_www_authenticate_header() -> None:
    headers = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_request" "(#4) Application request '
                                   'limit reached"', "X-App-Usage": '{"call_count":100,"total_time":40}'}
    exc = limited(response(400, graph_error(4, None, "(#4) Application request limit reached"), headers=headers))
    assert (exc.domain, exc.reset_after) == ("meta:app", 300)
    assert exc.signals == (UsageSignal(domain="meta:app", utilization=100),)


@pytest.mark.parametrize("subcode", [1504022, 1504039])
def test_insights_platform_limit_is_its_own_app_domain(subcode: int) -> None:
    exc = limited(response(400, graph_error(4, subcode, "There have been too many calls from this app")))
    assert (exc.domain, exc.reset_after) == ("meta:insights:app", 60)


def test_mutation_qps_waits_one_second_on_the_account() -> None:
    message = "Your ad account 123 has exceeded the maximum allowed rate of mutation requests"
    exc = limited(response(400, graph_error(613, 5044001, message), path="/act_123/ads"))
    assert (exc.domain, exc.reset_after) == ("meta:act_123:mutations", 1)


def test_613_without_subcode_parks_the_app_for_an_hour() -> None:
    exc = limited(response(400, graph_error(613, None, "(#613) Calls to this api have exceeded the rate limit.")))
    assert (exc.domain, exc.reset_after) == ("meta:app", 3600)


@pytest.mark.parametrize(("code", "subcode"), [(17, 1885172), (613, 1487632), (613, 1487225)])
def test_per_operation_caps_are_fatal(code: int, subcode: int) -> None:
    assert type(raised(response(400, graph_error(code, subcode)))) is FatalProviderError


# --- auth, transient, fatal ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "subcode"), [(190, 463), (190, 467), (190, None), (102, None), (2500, 460)])
def test_token_errors_are_auth_expired(code: int, subcode: int | None) -> None:
    message = ("Error validating access token: Session has expired on Tuesday, 01-Sep-26 10:00:00 PDT. "
               "The current time is Tuesday, 01-Sep-26 11:00:00 PDT.")
    headers = {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"',
               "X-App-Usage": APP_USAGE}
    exc = raised(response(400, graph_error(code, subcode, message), headers=headers))
    assert type(exc) is AuthExpiredError
    assert exc.signals == (UsageSignal(domain="meta:app", utilization=28),)


@pytest.mark.parametrize(("status", "body"), [
    (500, graph_error(1, 99, "An unknown error occurred")),
    (400, graph_error(2, None, "An unexpected error has occurred. Please retry your request later.",
                      is_transient=True)),
    (400, graph_error(2, 1504043)),
    (400, graph_error(960, 99)),
])
def test_transient_codes_are_retryable_with_the_callers_backoff(status: int, body: dict[str, Any]) -> None:
    exc = raised(response(status, body))
    assert type(exc) is RetryableError
    assert exc.retry_after is None


@pytest.mark.parametrize(("status", "body"), [
    (500, graph_error(1, None, "Please reduce the amount of data you're asking for, then retry your request")),
    (400, graph_error(100, 1487534)),
    (400, graph_error(100, 1504018)),
    (400, graph_error(2, 1504038)),
])
def test_too_much_data_asks_for_a_smaller_retry(status: int, body: dict[str, Any]) -> None:
    exc = raised(response(status, body))
    assert isinstance(exc, ReduceDataError) and isinstance(exc, RetryableError)
    assert exc.reduce_data is True


@pytest.mark.parametrize(("code", "subcode", "message"), [
    (100, 2804003, "Invalid parameter"),
    (200, None, "(#200) Requires business_management permission to manage the object"),
    (299, None, ""),
    (10, None, "(#10) Application does not have permission for this action"),
    (803, None, "(#803) Some of the aliases you requested do not exist"),
    (2, 1504041, "invalid breakdowns"),
    (12345, None, "a code we have never seen"),
])
def test_bad_requests_are_fatal(code: int, subcode: int | None, message: str) -> None:
    assert type(raised(response(400, graph_error(code, subcode, message)))) is FatalProviderError


def test_unknown_code_on_5xx_is_retryable() -> None:
    assert type(raised(response(503, graph_error(12345, None, "overloaded")))) is RetryableError


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_non_json_server_errors_are_retryable(status: int) -> None:
    exc = raised(response(status, content=b"<html><body>Bad Gateway</body></html>",
                          headers={"Content-Type": "text/html", "Retry-After": "12"}))
    assert type(exc) is RetryableError
    assert exc.retry_after == 12


def test_non_json_reduce_data_text_is_still_reduce_data() -> None:
    exc = raised(response(500, content=b"Please reduce the amount of data you're asking for, then retry"))
    assert isinstance(exc, ReduceDataError)


@pytest.mark.parametrize("content", [b"", b"Bad Request", b'{"error": "not an object"}', b"[1, 2]"])
def test_non_graph_4xx_bodies_are_fatal(content: bytes) -> None:
    assert type(raised(response(400, content=content))) is FatalProviderError


def test_a_bodyless_invalid_token_challenge_is_auth_expired() -> None:
    headers = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" "Error validating access token"'}
    assert type(raised(response(401, content=b"", headers=headers))) is AuthExpiredError


async def test_timeouts_become_retryable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(timeout)) as client:
        with pytest.raises(RetryableError) as info, transport_errors():
            await client.get(GRAPH + "/act_123/insights")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert info.value.retry_after is None


def test_the_package_exports() -> None:
    assert sorted(adapters.meta.__all__) == [
        "APP_DOMAIN", "AdAccount", "BucUsage", "Campaign", "DebugToken", "INSIGHTS_APP_DOMAIN", "InsightRow",
        "InvalidState", "MetaClient", "MetaOAuth", "MetaUsage", "ReduceDataError", "ReportRun", "StateSigner",
        "TokenGrant", "account_domain", "classify", "currency_offset", "login_url", "meta_window",
        "normalize_account_id", "read_usage", "to_major", "to_minor", "transport_errors", "usage_signals",
    ]


# --- properties ------------------------------------------------------------------------------------

USAGE_HEADERS = ["X-App-Usage", "X-Ad-Account-Usage", "X-Business-Use-Case-Usage", "X-FB-Ads-Insights-Throttle"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)
usage_fields = st.sampled_from([
    "call_count", "total_time", "total_cputime", "acc_id_util_pct", "app_id_util_pct", "reset_time_duration",
    "estimated_time_to_regain_access", "type", "ads_api_access_tier",
])
usage_values = (
    st.integers(min_value=-5, max_value=10**6) | st.floats() | st.integers().map(str) | json_values
    | st.sampled_from(["ads_insights", "ads_management", "standard_access", "development_access"])
)
usage_objects = st.dictionaries(usage_fields, usage_values, max_size=6)
header_texts = (
    st.text()
    | json_values.map(json.dumps)
    | usage_objects.map(json.dumps)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from(["1", "act_1"]), st.lists(usage_objects, max_size=3),
                      max_size=3).map(json.dumps)
)
header_maps = st.dictionaries(st.sampled_from(USAGE_HEADERS).map(str.lower) | st.sampled_from(USAGE_HEADERS),
                              header_texts, max_size=4)


@given(header_maps, st.none() | st.text(max_size=12))
def test_no_header_text_crashes_usage_parsing(headers: dict[str, str], account_id: str | None) -> None:
    for signal in usage_signals(headers, account_id):
        assert math.isfinite(signal.utilization) and signal.utilization >= 0
        assert signal.regain_after is None or (math.isfinite(signal.regain_after) and signal.regain_after >= 0)


@given(st.dictionaries(st.sampled_from(USAGE_HEADERS), st.binary(), max_size=4))
def test_no_header_bytes_crash_usage_parsing(raw: dict[str, bytes]) -> None:
    headers = httpx.Headers([(name.encode(), value) for name, value in raw.items()])
    assert all(isinstance(signal, UsageSignal) for signal in usage_signals(headers, "act_1"))


graph_codes = st.sampled_from([1, 2, 4, 10, 17, 32, 100, 102, 190, 200, 341, 613, 803, 80000, 80004, 80014])
graph_subcodes = st.none() | st.sampled_from([99, 463, 1487534, 1487742, 1504022, 2446079, 5044001])
graph_bodies = st.builds(
    lambda code, subcode, message, transient: json.dumps(graph_error(code, subcode, message,
                                                                     is_transient=transient)).encode(),
    graph_codes | st.integers(), graph_subcodes | st.integers(), st.text(max_size=40), json_values,
)
bodies = st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()) | graph_bodies


@given(st.integers(min_value=100, max_value=599), bodies, header_maps, st.none() | st.text(max_size=12))
def test_every_response_is_data_or_exactly_one_error(status: int, content: bytes, headers: dict[str, str],
                                                     account_id: str | None) -> None:
    safe = {name: value for name, value in headers.items() if value.isascii()}  # httpx takes str as ASCII
    resp = response(status, content=content, headers=safe)
    try:
        signals = classify(resp, account_id=account_id)
    except OUTCOMES as exc:
        assert not 200 <= status < 300
        assert sum(isinstance(exc, outcome) for outcome in OUTCOMES) == 1
        assert all(isinstance(signal, UsageSignal) for signal in exc.signals)
        if isinstance(exc, RateLimitedError):
            assert math.isfinite(exc.reset_after) and exc.reset_after >= 0
    else:
        assert 200 <= status < 300
        assert all(isinstance(signal, UsageSignal) for signal in signals)


@given(st.integers(min_value=0, max_value=10**6) | st.floats(min_value=0, max_value=1e9),
       st.sampled_from(["ads_insights", "ads_management", "custom_audience"]))
def test_buc_regain_minutes_always_become_seconds(minutes: float, buc_type: str) -> None:
    header = json.dumps({"42": [{"type": buc_type, "call_count": 100, "estimated_time_to_regain_access": minutes}]})
    (signal,) = usage_signals({"x-business-use-case-usage": header}, "act_42")
    assert signal.domain == f"meta:act_42:{buc_type}"
    assert signal.regain_after is not None and math.isclose(signal.regain_after, minutes * 60, rel_tol=1e-12)
    if minutes > 0:
        body = graph_error(80000 if buc_type == "ads_insights" else 80004 if buc_type == "ads_management"
                           else 80003, 2446079)
        exc = limited(response(400, body, headers={"X-Business-Use-Case-Usage": header}, path="/act_42/x"))
        assert exc.reset_after == signal.regain_after


@given(st.integers(min_value=0, max_value=10**6) | st.floats(min_value=0, max_value=1e9))
def test_reset_time_duration_stays_seconds(seconds: float) -> None:
    header = json.dumps({"acc_id_util_pct": 100, "reset_time_duration": seconds,
                         "ads_api_access_tier": "standard_access"})
    assert read_usage({"X-Ad-Account-Usage": header}).account_reset_after == seconds
    (signal,) = usage_signals({"X-Ad-Account-Usage": header}, "act_9")
    assert signal.regain_after == seconds
    exc = limited(response(400, graph_error(17, 2446079), headers={"X-Ad-Account-Usage": header}, path="/act_9"))
    assert exc.reset_after == (seconds if seconds > 0 else 60)


def test_a_blank_account_id_falls_back_to_the_request_path() -> None:
    exc = limited(response(400, graph_error(17, 2446079), path="/act_321/ads"), account_id="  ")
    assert exc.domain == "meta:act_321:score"
