"""Meta's four usage headers, read into neutral ``UsageSignal``s for the engine's governor.

We read every response, errors included (PROVIDERS.md A4, C); we do not decide what an error means
(``adapters.meta.classify`` does) and we never pace (``engine`` does). A header that is absent,
malformed or half-filled is skipped with a debug log: usage is advice, the data still gets through.

Domains (opaque strings the governor keys on; ``<act>`` is always ``act_<digits>``)::

    meta:app                    X-App-Usage: max(call_count, total_time, total_cputime), already %;
                                no regain time
    meta:<act>:score            X-Ad-Account-Usage: acc_id_util_pct;
                                regain = reset_time_duration, in SECONDS as sent
    meta:<object>:<buc type>    X-Business-Use-Case-Usage, one per (object, entry):
                                max(call_count, total_cputime, total_time);
                                regain = estimated_time_to_regain_access, in MINUTES, * 60
    meta:insights:app           X-FB-Ads-Insights-Throttle: app_id_util_pct
    meta:<act>:insights         X-FB-Ads-Insights-Throttle: acc_id_util_pct
    meta:<act>:mutations        no header; only the 613/5044001 mutation-QPS error (see classify)

The BUC header is keyed by business object id, for Marketing calls the ad account's number without
``act_``. A key equal to the known account's number is written ``act_<digits>`` so that every domain of
one account shares the prefix (``meta:act_123:ads_management``) and an error without headers names the
same domain as the header would have. Other keys (pages, catalogs) are kept raw. The account-scoped
domains need the ad account id; without one we skip ``score`` and ``insights`` account signals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import TypeVar

import httpx
import msgspec

from engine.provider import UsageSignal

__all__ = [
    "APP_DOMAIN",
    "INSIGHTS_APP_DOMAIN",
    "BucUsage",
    "MetaUsage",
    "account_domain",
    "meta_window",
    "normalize_account_id",
    "read_usage",
    "usage_signals",
]

logger = logging.getLogger(__name__)

APP_DOMAIN = "meta:app"
INSIGHTS_APP_DOMAIN = "meta:insights:app"

_SCORE_WINDOW = 300.0  # the ad-account score leaks out over 300 s; the other Meta budgets are hourly (A4)...
_LOAD_WINDOW = 1.0  # ...but the Ads Insights platform limit, a load per app per second (A4, item 5)
_APP_USAGE = "x-app-usage"
_ACCOUNT_USAGE = "x-ad-account-usage"
_BUC_USAGE = "x-business-use-case-usage"
_INSIGHTS_THROTTLE = "x-fb-ads-insights-throttle"
_LOGGED_CHARS = 200  # of a malformed header value; the BUC header can carry 32 objects

_T = TypeVar("_T")


# Lenient Structs: unknown fields ignored, every field optional, numbers may arrive as strings.
class _AppUsage(msgspec.Struct):
    call_count: float | None = None
    total_time: float | None = None
    total_cputime: float | None = None


class _AccountUsage(msgspec.Struct):
    acc_id_util_pct: float | None = None
    reset_time_duration: float | None = None  # seconds
    ads_api_access_tier: str | None = None


class _BucEntry(msgspec.Struct):
    type: str | None = None
    call_count: float | None = None
    total_cputime: float | None = None
    total_time: float | None = None
    estimated_time_to_regain_access: float | None = None  # MINUTES, unlike reset_time_duration
    ads_api_access_tier: str | None = None


class _InsightsThrottle(msgspec.Struct):
    app_id_util_pct: float | None = None
    acc_id_util_pct: float | None = None
    ads_api_access_tier: str | None = None


_app_decoder = msgspec.json.Decoder(_AppUsage, strict=False)
_account_decoder = msgspec.json.Decoder(_AccountUsage, strict=False)
# Entries stay raw so that one malformed entry costs only itself, not the other 31 objects.
_buc_decoder = msgspec.json.Decoder(dict[str, list[msgspec.Raw]], strict=False)
_buc_entry_decoder = msgspec.json.Decoder(_BucEntry, strict=False)
_insights_decoder = msgspec.json.Decoder(_InsightsThrottle, strict=False)


class BucUsage(msgspec.Struct, frozen=True, kw_only=True):
    """One X-Business-Use-Case-Usage entry: its object (``act_<digits>`` for the account) and BUC type."""

    object_id: str
    type: str
    signal: UsageSignal


class MetaUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the usage headers of one response said.

    ``signals`` is what the engine consumes. The other fields serve error classification:
    ``tier`` is ``ads_api_access_tier`` from whichever header carried it, ``account_reset_after`` is
    X-Ad-Account-Usage ``reset_time_duration`` (seconds) even when no account id was known, and
    ``buc`` keeps the BUC entries' object and type apart from the domain string.
    """

    signals: tuple[UsageSignal, ...] = ()
    tier: str | None = None
    account_reset_after: float | None = None
    buc: tuple[BucUsage, ...] = ()


def normalize_account_id(account_id: str) -> str:
    """Return ``act_<digits>`` for ``act_123`` or ``123``; any other id is returned stripped, as given."""
    account_id = account_id.strip()
    if account_id.isascii() and account_id.isdigit():
        return f"act_{account_id}"
    return account_id


def account_domain(account_id: str, scope: str) -> str:
    """The domain ``meta:<act>:<scope>``, e.g. ``account_domain("123", "score") == "meta:act_123:score"``."""
    return f"meta:{normalize_account_id(account_id)}:{scope}"


def meta_window(domain: str) -> float:
    """The accounting window of a Meta rate domain, for the ``Pacer`` shared by every Meta account actor.

    The insights app's ``app_id_util_pct`` measures the app's insights load in the last second. Read
    over an hour, one burst (a process starting, or claiming accounts after a restart or a rebalance:
    47 calls in a second, 4.7 %) made each insights call look like 4.7 % of an hour's budget, and the
    process then spaced its insights calls 440 s apart, every account's included."""
    if domain == INSIGHTS_APP_DOMAIN:
        return _LOAD_WINDOW
    return _SCORE_WINDOW if domain.endswith(":score") else 3600.0


def usage_signals(headers: Mapping[str, str], account_id: str | None = None) -> tuple[UsageSignal, ...]:
    """Return the usage signals in ``headers`` (of a response or of a batch item); never raises.

    ``headers`` may be ``httpx.Headers`` or any mapping (looked up case-insensitively). Pass the ad
    account id the call was about (``act_123`` or ``123``) to get its ``score`` and ``insights`` signals.
    """
    return read_usage(headers, account_id).signals


def read_usage(headers: Mapping[str, str], account_id: str | None = None) -> MetaUsage:
    """Decode all four usage headers into a ``MetaUsage``; never raises (see ``usage_signals``)."""
    account = normalize_account_id(account_id or "") or None
    app = _decode(headers, _APP_USAGE, _app_decoder)
    acct = _decode(headers, _ACCOUNT_USAGE, _account_decoder)
    insights = _decode(headers, _INSIGHTS_THROTTLE, _insights_decoder)
    entries = list(_buc_entries(headers))
    buc = tuple(_buc_usages(entries, account))
    signals = (*_app_signals(app), *_account_signals(acct, account), *(b.signal for b in buc),
               *_insights_signals(insights, account))
    tiers = [acct.ads_api_access_tier if acct else None, insights.ads_api_access_tier if insights else None,
             *(entry.ads_api_access_tier for _, entry in entries)]
    return MetaUsage(
        signals=signals,
        tier=next((tier for tier in tiers if tier), None),
        account_reset_after=_amount(acct.reset_time_duration) if acct else None,
        buc=buc,
    )


def _app_signals(app: _AppUsage | None) -> Iterator[UsageSignal]:
    utilization = _peak(app.call_count, app.total_time, app.total_cputime) if app else None
    if utilization is not None:
        yield UsageSignal(domain=APP_DOMAIN, utilization=utilization)


def _account_signals(acct: _AccountUsage | None, account: str | None) -> Iterator[UsageSignal]:
    utilization = _amount(acct.acc_id_util_pct) if acct else None
    if acct is None or utilization is None:
        return
    if account is None:
        logger.debug("X-Ad-Account-Usage without a known ad account; skipping its signal")
        return
    regain = _amount(acct.reset_time_duration)  # already seconds
    yield UsageSignal(domain=account_domain(account, "score"), utilization=utilization, regain_after=regain)


def _insights_signals(throttle: _InsightsThrottle | None, account: str | None) -> Iterator[UsageSignal]:
    if throttle is None:
        return
    app_pct = _amount(throttle.app_id_util_pct)
    if app_pct is not None:
        yield UsageSignal(domain=INSIGHTS_APP_DOMAIN, utilization=app_pct)
    acc_pct = _amount(throttle.acc_id_util_pct)
    if acc_pct is not None and account is not None:
        yield UsageSignal(domain=account_domain(account, "insights"), utilization=acc_pct)


def _buc_usages(entries: list[tuple[str, _BucEntry]], account: str | None) -> Iterator[BucUsage]:
    for object_id, entry in entries:
        utilization = _peak(entry.call_count, entry.total_cputime, entry.total_time)
        if not entry.type or utilization is None:
            continue
        minutes = _amount(entry.estimated_time_to_regain_access)
        regain = _amount(minutes * 60) if minutes is not None else None  # *60 can overflow to inf
        owner = _buc_object(object_id, account)
        domain = f"meta:{owner}:{entry.type}"
        yield BucUsage(object_id=owner, type=entry.type,
                       signal=UsageSignal(domain=domain, utilization=utilization, regain_after=regain))


def _buc_entries(headers: Mapping[str, str]) -> Iterator[tuple[str, _BucEntry]]:
    by_object = _decode(headers, _BUC_USAGE, _buc_decoder)
    for object_id, entries in (by_object or {}).items():
        for raw in entries:
            try:
                yield object_id, _buc_entry_decoder.decode(raw)
            except msgspec.DecodeError as exc:
                logger.debug("ignoring a malformed %s entry for %r: %s", _BUC_USAGE, object_id, exc)


def _buc_object(object_id: str, account: str | None) -> str:
    if account is not None and normalize_account_id(object_id) == account:
        return account
    return object_id


def _decode(headers: Mapping[str, str], name: str, decoder: msgspec.json.Decoder[_T]) -> _T | None:
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeError) as exc:  # UnicodeError: lone surrogates in a str mapping
        logger.debug("ignoring malformed %s header %r: %s", name, raw[:_LOGGED_CHARS], exc)
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        value: str | None = headers.get(name)  # joins repeated headers with ", ": then malformed JSON
        return value
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _amount(value: float | None) -> float | None:
    """A usable percentage or duration: finite and not negative, else None (treated as absent)."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value


def _peak(*values: float | None) -> float | None:
    present = [v for v in map(_amount, values) if v is not None]
    return max(present, default=None)
