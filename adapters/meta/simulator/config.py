"""The simulator's configuration: one strict Struct, so a sandbox or a benchmark states every knob it turns.

It owns only the knobs; the world, the quota model and the fault injector read them.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

__all__ = ["FaultConfig", "Profile", "SimulatorConfig", "Tier", "account_token", "token_account"]

Tier = Literal["development_access", "standard_access"]
_Rate = Annotated[float, Meta(ge=0.0, le=1.0)]
# An ad account's (ISO 4217 currency, IANA timezone), as Meta reports them on the account.
Profile = tuple[Annotated[str, Meta(pattern="^[A-Z]{3}$")], str]
_ACCOUNT_TOKEN = "ACCOUNT_TOKEN_act_"


class FaultConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Scripted misbehaviour, drawn per request from the seeded fault stream (deterministic per call order).

    ``throttle_rate`` forces a 17/2446079 block answer (Meta's 429-like storm); ``restatement_rate`` is the
    chance that a past day (within 28 days) is restated in each simulated hour.

    Refused writes: the first ``refused_writes`` campaign writes (creates and edits: a pause, a budget), then
    a ``write_error_rate`` share of the others drawn from a stream of their own (so turning them on moves no
    other fault), are answered with ``write_error_code``: 2 is Meta's transient "unexpected error" (HTTP 500,
    retry it), 100 a permanent "Invalid parameter" (HTTP 400). A refused write changes nothing.
    """

    latency_s: Annotated[float, Meta(ge=0.0)] = 0.0
    error_500_rate: _Rate = 0.0  # code 1 / subcode 99, HTTP 500
    error_503_rate: _Rate = 0.0  # HTTP 503 with a plain-text body
    error_2_rate: _Rate = 0.0  # code 2, is_transient true, HTTP 500
    malformed_rate: _Rate = 0.0  # HTTP 200 with a truncated JSON body
    empty_page_rate: _Rate = 0.0  # a list page that comes back empty but still has paging.next
    throttle_rate: _Rate = 0.0
    restatement_rate: _Rate = 0.0
    report_failure_rate: _Rate = 0.0  # async report runs that end in "Job Failed"
    throttle_is_transient: bool = False  # 2026 production said false; 2017 said true
    refused_writes: Annotated[int, Meta(ge=0)] = 0
    write_error_rate: _Rate = 0.0
    write_error_code: Literal[2, 100] = 2
    # Scheduled storms, (start, end) in simulated Unix seconds: every call inside one is throttled.
    storms: tuple[tuple[float, float], ...] = ()


class SimulatorConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Everything that shapes one simulated Meta.

    ``speed`` multiplies elapsed trio time into simulated time. ``usage_header_threshold_pct`` is the BUC
    usage (percent of quota) below which X-Business-Use-Case-Usage is not sent yet ("once enough calls
    have been made"). ``access_tokens`` are pre-issued, never-expiring tokens with every scope.

    ``profiles`` are the (currency, timezone) of the accounts in turn, cycled when there are more accounts
    than profiles; empty (the default) is the built-in mix (USD in Los Angeles, JPY in Tokyo, USD in
    Honolulu, KRW in Tonga, GBP in London, NZD in Auckland). A currency the simulator has no rate for is
    priced like USD; one without cents (JPY, KRW, ...) has an offset of 1. An unknown timezone raises.

    ``account_tokens``: every ad account also gets a pre-issued token of its own (``account_token``), whose
    ``/me/adaccounts`` lists that account alone, as thousands of labels each connecting their own Meta user
    would see it (the pipeline benchmark's real account actors).
    """

    seed: int = 0
    speed: Annotated[float, Meta(ge=0.0)] = 1.0
    start: str = "2026-09-01T12:00:00+00:00"  # ISO 8601 with an offset: the simulated clock's origin
    tier: Tier = "development_access"
    active_ads: Annotated[int, Meta(ge=0)] = 0
    accounts: Annotated[int, Meta(ge=1, le=20_000)] = 6  # a fleet test polls 500, the bench up to 20,000
    campaigns_per_account: Annotated[int, Meta(ge=0, le=500)] = 4
    history_days: Annotated[int, Meta(ge=0)] = 60  # seeded campaigns started this long before ``start``
    usage_header_threshold_pct: Annotated[float, Meta(ge=0.0)] = 10.0
    app_calls_per_hour: Annotated[int, Meta(ge=1)] = 1_000_000
    insights_app_calls_per_s: Annotated[int, Meta(ge=1)] = 1_000  # the Ads Insights platform load limit
    app_id: str = "1234567890"
    app_secret: str = "simulator-secret"
    access_tokens: tuple[str, ...] = ("SIMULATOR_TOKEN",)
    account_tokens: bool = False
    deny_consent: bool = False
    short_token_ttl_s: int = 7200
    long_token_ttl_s: int = 5_183_944
    code_ttl_s: int = 600
    insights_max_rows: Annotated[int, Meta(ge=1)] = 20_000  # more in one sync query: 100/1487534
    insights_max_cells: Annotated[int, Meta(ge=1)] = 100_000  # values on one sync page: HTTP 500, code 1
    report_run_s: Annotated[float, Meta(gt=0.0)] = 30.0  # simulated seconds an async report run takes
    faults: FaultConfig = msgspec.field(default_factory=FaultConfig)
    profiles: tuple[Profile, ...] = ()

    def __post_init__(self) -> None:
        for _, timezone_name in self.profiles:
            try:
                ZoneInfo(timezone_name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone in profiles: {timezone_name!r}") from None


def account_token(account_id: str) -> str:
    """The pre-issued token of the ad account ``account_id`` (digits) when ``account_tokens`` is on."""
    return f"{_ACCOUNT_TOKEN}{account_id}"


def token_account(token: str | None) -> str | None:
    """The ad account (digits) whose own token ``token`` is, if it is one (``account_token``)."""
    return token[len(_ACCOUNT_TOKEN):] if token is not None and token.startswith(_ACCOUNT_TOKEN) else None
