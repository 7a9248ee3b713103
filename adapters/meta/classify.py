"""The one place a Graph API response becomes data or a typed ``engine.provider`` error.

``classify`` is the Singer SDK's ``validate_response`` without the sleeping: it reads the usage headers
of every response (``adapters.meta.usage``), returns them for a success and raises for a failure, with
the same signals attached. It never waits and never retries. We classify by ``(code, error_subcode)``
and never by ``is_transient``, which Meta sets inconsistently on the same throttle (PROVIDERS.md A4).

    code / subcode (any HTTP status)           raises                  domain, delay (seconds)
    190, 102, or any code with subcode 458-468  AuthExpiredError
    17/1885172, 613/1487632, 613/1487225        FatalProviderError      per-operation caps (10 spend-limit
                                                                        changes a day, 4 budget changes an
                                                                        hour): parking reads cannot help
    17/* (2446079 and others), 613/1487742      RateLimitedError        meta:<act>:score; reset_time_duration
                                                                        if > 0, else 300 development_access,
                                                                        60 standard_access, 300 unknown tier
    8000x, 80014 (BUC, A4 table), 32 (pages)    RateLimitedError        meta:<object>:<buc type>; regain
                                                                        minutes * 60 if > 0, else 600
    4/1504022, 4/1504039                        RateLimitedError        meta:insights:app, 60
    4/*, 341                                    RateLimitedError        meta:app, 300
    613/5044001                                 RateLimitedError        meta:<act>:mutations, 1
    613/* (no subcode, 1996, unknown)           RateLimitedError        meta:app, 3600
    message has "reduce the amount of data",    ReduceDataError         retry_after None; the caller
      100/1487534, 100/1504018, 2/1504038         (a RetryableError)    halves limit or splits the range
    2/1504041, 2/1504042                        FatalProviderError      invalid breakdowns / custom metrics
    1/*, 2/*, */99                              RetryableError          retry_after None: caller's backoff
    10, 100, 200-299, 803                       FatalProviderError
    any other code: by HTTP status, as below

    no Graph error body (HTML, text, empty) or an unknown code:
    5xx whose text has "reduce the amount of data"  ReduceDataError
    5xx, 408, 429                               RetryableError          Retry-After if sent, else None
    other, WWW-Authenticate "invalid_token"     AuthExpiredError
    any other non-2xx                           FatalProviderError

A failure's message carries Meta's words for a person (``error_user_title``, ``error_user_msg``) when the
body has them: a refused budget (code 100, "Budget Is Too Low: ...") says what to change.

Why 600 s when a BUC error comes without ``estimated_time_to_regain_access``: BUC quotas are a rolling
hour, so capacity returns gradually and parking for the whole hour wastes most of it; 10 minutes is
Airbyte's floor at ≥ 95 % usage, long enough that we stop feeding the block ("calls while blocked keep
counting") and short enough that the next response's headers give the real estimate. ``<act>`` is the
``account_id`` passed in, else the ``act_<digits>`` segment of the request path, else ``unknown``.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

import httpx

from adapters.meta.errors import GraphError, ReduceDataError, decode_graph_error
from adapters.meta.usage import (
    APP_DOMAIN,
    INSIGHTS_APP_DOMAIN,
    MetaUsage,
    account_domain,
    normalize_account_id,
    read_usage,
)
from adapters.transport import network_errors
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    ProviderError,
    RateLimitedError,
    RetryableError,
    UsageSignal,
)

__all__ = ["classify", "transport_errors"]

_AUTH_CODES = frozenset({102, 190})
_AUTH_SUBCODES = range(458, 469)  # A1: 458 app not installed … 463 expired … 467 logged out … 468
_OPERATION_CAPS = frozenset({(17, 1885172), (613, 1487632), (613, 1487225)})
_BUC_TYPES = {
    80000: "ads_insights",
    80001: "pages",
    80002: "instagram",
    80003: "custom_audience",
    80004: "ads_management",
    80005: "leadgen",
    80006: "messenger",
    80008: "whatsapp_business_management",
    80009: "catalog_management",
    80014: "catalog_batch",
    32: "pages",  # pages with a user token: "(#32) Page request limit reached"
}
_INSIGHTS_APP_SUBCODES = frozenset({1504022, 1504039})
_REDUCE_DATA = frozenset({(100, 1487534), (100, 1504018), (2, 1504038)})
_REDUCE_DATA_TEXT = "reduce the amount of data"
_NOT_TRANSIENT = frozenset({(2, 1504041), (2, 1504042)})  # code 2, yet a bad request
_RETRYABLE_CODES = frozenset({1, 2})
_FATAL_CODES = frozenset({10, 100, 803, *range(200, 300)})

_TIER_BLOCK = {"development_access": 300.0, "standard_access": 60.0}  # A4: score-limit block lengths
_SCORE_DEFAULT = 300.0
_BUC_DEFAULT = 600.0
_APP_DEFAULT = 300.0
_INSIGHTS_APP_DEFAULT = 60.0  # a per-second capacity limiter: it recovers fast
_MUTATION_QPS = 1.0  # 100 requests per second per (app, account)
_ABUSE_DEFAULT = 3600.0  # 613 with no subcode: Meta says "contact support"; wait out the rolling hour

_ACCOUNT_IN_PATH = re.compile(r"(?:^|/)(act_\d+)(?:/|$)")
_RETRY_AFTER = re.compile(r"\s*(\d{1,9}(?:\.\d+)?)\s*")
_SNIPPET_CHARS = 300


def classify(response: httpx.Response, *, account_id: str | None = None) -> tuple[UsageSignal, ...]:
    """Return the usage signals of a 2xx response; raise the matching ``ProviderError`` otherwise.

    ``account_id`` (``act_123`` or ``123``) names the ad account the call was about; without it we
    look for ``act_<digits>`` in the request path. The body must already be read.

    Error handling: raises ``AuthExpiredError``, ``RateLimitedError``, ``RetryableError`` (or its
    subclass ``ReduceDataError``) or ``FatalProviderError`` per the table in the module docstring,
    each with ``signals`` set to the response's usage signals. Nothing else, whatever the body.
    """
    account = normalize_account_id(account_id or "") or _account_in_path(response)
    usage = read_usage(response.headers, account)
    if response.is_success:
        return usage.signals
    raise _error(response, usage, account)


def transport_errors() -> AbstractContextManager[None]:
    """httpx timeouts and network failures inside the block become ``RetryableError``."""
    return network_errors("meta")


def _error(response: httpx.Response, usage: MetaUsage, account: str | None) -> ProviderError:
    error = decode_graph_error(response.content)
    if error is None or error.code is None:
        return _by_status(response, usage.signals, _text_snippet(response))
    detail = _describe(response.status_code, error)
    return _by_code(error.code, error.error_subcode, detail, usage, account) or _by_status(
        response, usage.signals, detail
    )


def _by_code(code: int, subcode: int | None, detail: str, usage: MetaUsage,
             account: str | None) -> ProviderError | None:
    signals = usage.signals
    if code in _AUTH_CODES or subcode in _AUTH_SUBCODES:
        return AuthExpiredError(detail, signals=signals)
    if (code, subcode) in _OPERATION_CAPS:
        return FatalProviderError(detail, signals=signals)
    if code == 17 or (code, subcode) == (613, 1487742):
        domain = account_domain(account or "unknown", "score")
        return RateLimitedError(detail, domain=domain, reset_after=_score_reset(usage), signals=signals)
    if code in _BUC_TYPES:
        return _buc_limited(_BUC_TYPES[code], detail, usage, account)
    if code in (4, 341):
        domain, reset = ((INSIGHTS_APP_DOMAIN, _INSIGHTS_APP_DEFAULT) if subcode in _INSIGHTS_APP_SUBCODES
                         else (APP_DOMAIN, _APP_DEFAULT))
        return RateLimitedError(detail, domain=domain, reset_after=reset, signals=signals)
    if (code, subcode) == (613, 5044001):
        domain = account_domain(account or "unknown", "mutations")
        return RateLimitedError(detail, domain=domain, reset_after=_MUTATION_QPS, signals=signals)
    if code == 613:
        return RateLimitedError(detail, domain=APP_DOMAIN, reset_after=_ABUSE_DEFAULT, signals=signals)
    return _by_plain_code(code, subcode, detail, signals)


def _by_plain_code(code: int, subcode: int | None, detail: str,
                   signals: tuple[UsageSignal, ...]) -> ProviderError | None:
    if (code, subcode) in _REDUCE_DATA or _REDUCE_DATA_TEXT in detail.lower():
        return ReduceDataError(detail, signals=signals)
    if (code, subcode) in _NOT_TRANSIENT:
        return FatalProviderError(detail, signals=signals)
    if code in _RETRYABLE_CODES or subcode == 99:
        return RetryableError(detail, signals=signals)
    if code in _FATAL_CODES:
        return FatalProviderError(detail, signals=signals)
    return None


def _by_status(response: httpx.Response, signals: tuple[UsageSignal, ...], detail: str) -> ProviderError:
    status = response.status_code
    if status >= 500 and _REDUCE_DATA_TEXT in detail.lower():
        return ReduceDataError(detail, signals=signals)
    if status >= 500 or status in (408, 429):
        return RetryableError(detail, retry_after=_retry_after(response.headers), signals=signals)
    if '"invalid_token"' in response.headers.get("www-authenticate", ""):
        return AuthExpiredError(detail, signals=signals)
    return FatalProviderError(detail, signals=signals)


def _score_reset(usage: MetaUsage) -> float:
    if usage.account_reset_after:  # 0 while blocked says nothing: fall back to the tier's block length
        return usage.account_reset_after
    return _TIER_BLOCK.get(usage.tier or "", _SCORE_DEFAULT)


def _buc_limited(buc_type: str, detail: str, usage: MetaUsage, account: str | None) -> RateLimitedError:
    matches = [b for b in usage.buc if b.type == buc_type]
    own = [b for b in matches if account is None or b.object_id == account]
    if own:
        domain, regain = own[0].signal.domain, own[0].signal.regain_after
    else:
        domain, regain = account_domain(account or "unknown", buc_type), None
    return RateLimitedError(detail, domain=domain, reset_after=regain or _BUC_DEFAULT, signals=usage.signals)


def _account_in_path(response: httpx.Response) -> str | None:
    try:
        path = response.request.url.path
    except RuntimeError:  # a Response built without a request
        return None
    match = _ACCOUNT_IN_PATH.search(path)
    return match.group(1) if match else None


def _retry_after(headers: httpx.Headers) -> float | None:
    match = _RETRY_AFTER.fullmatch(headers.get("retry-after", ""))
    return float(match.group(1)) if match else None


def _describe(status: int, error: GraphError) -> str:
    message = error.message or ""
    if error.error_user_msg:  # Meta's words for a person: "Budget Is Too Low: ... at least 1.00 USD."
        title = f"{error.error_user_title}: " if error.error_user_title else ""
        message += f" ({title}{error.error_user_msg})"
    message = message[:_SNIPPET_CHARS]
    subcode = f"/{error.error_subcode}" if error.error_subcode is not None else ""
    trace = f" [fbtrace_id={error.fbtrace_id}]" if error.fbtrace_id else ""
    return f"meta HTTP {status} (#{error.code}{subcode}): {message}{trace}"


def _text_snippet(response: httpx.Response) -> str:
    text = response.content[:_SNIPPET_CHARS].decode("utf-8", "replace").strip()
    return f"meta HTTP {response.status_code}: {text or '(empty body)'}"
