"""Lenient msgspec Structs for the Graph JSON our client reads, and their decoders, built once.

Lenient means: unknown fields are ignored, nearly every field is optional, and numbers may arrive as
strings (``strict=False``), because Meta sends ids, budgets and metrics as numeric strings
(PROVIDERS.md A2, A3). Money stays in Meta's units: budgets and ``amount_spent`` as minor-unit ints,
insights ``spend`` as a major-unit ``Decimal``; ``adapters.meta.money`` converts. It owns shapes, not
meaning: what an error body says is ``adapters.meta.errors``/``classify``'s job.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "Action",
    "AdAccount",
    "AudienceStatus",
    "Campaign",
    "CreatedObject",
    "Cursors",
    "CustomAudience",
    "DebugEnvelope",
    "DebugToken",
    "EventsReceived",
    "InsightRow",
    "LookalikeSpec",
    "MinimumBudget",
    "Page",
    "Paging",
    "ReportRun",
    "ReportStarted",
    "Success",
    "TokenGrant",
    "UsersReceived",
    "parse_graph_time",
]

T = TypeVar("T")


class Cursors(msgspec.Struct):
    before: str | None = None
    after: str | None = None


class Paging(msgspec.Struct):
    """Cursor paging (A2): stop only when ``next`` is absent; a page may be empty and still have it."""

    cursors: Cursors | None = None
    next: str | None = None
    previous: str | None = None


class Page(msgspec.Struct, Generic[T]):
    """``{"data": [...], "paging": {...}}``."""

    data: list[T] = msgspec.field(default_factory=list)
    paging: Paging | None = None

    @property
    def next_url(self) -> str | None:
        return self.paging.next if self.paging is not None else None


class AdAccount(msgspec.Struct, kw_only=True):
    """An ad account. ``id`` is ``act_<digits>``; ``amount_spent`` is minor units (absent unless asked)."""

    id: str
    account_id: str | None = None
    name: str | None = None
    account_status: int | None = None  # 1 ACTIVE, 2 DISABLED, 3 UNSETTLED, 101 CLOSED, … (A3)
    currency: str | None = None
    timezone_name: str | None = None
    amount_spent: int | None = None
    spend_cap: int | None = None


class Campaign(msgspec.Struct, kw_only=True):
    """A campaign; budgets are minor units of the account currency; times as Graph sends them (see below)."""

    id: str
    account_id: str | None = None
    name: str | None = None
    status: str | None = None
    configured_status: str | None = None
    effective_status: str | None = None
    objective: str | None = None
    daily_budget: int | None = None
    lifetime_budget: int | None = None
    budget_remaining: int | None = None
    spend_cap: int | None = None
    bid_strategy: str | None = None
    special_ad_categories: list[str] = msgspec.field(default_factory=list)
    # Graph writes offsets without a colon ("2026-08-01T12:00:00-1000"), which RFC 3339 parsers
    # reject, so we keep the text and parse on demand with ``parse_graph_time``.
    created_time: str | None = None
    updated_time: str | None = None


class Action(msgspec.Struct):
    """One entry of ``actions``: ``{"action_type": "link_click", "value": "12"}``."""

    action_type: str
    value: Decimal = msgspec.field(default_factory=Decimal)


class InsightRow(msgspec.Struct, kw_only=True):
    """One insights row. ``spend`` is MAJOR units of the account currency (unlike budgets).

    Breakdown values (``age``, ``gender``, ``country``) are present only when asked for.
    """

    date_start: date
    date_stop: date
    account_id: str | None = None
    account_currency: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    impressions: int = 0
    clicks: int = 0
    reach: int | None = None
    spend: Decimal = msgspec.field(default_factory=Decimal)
    ctr: Decimal | None = None  # percent; Meta leaves these out for a row without impressions (or clicks)
    cpc: Decimal | None = None
    cpm: Decimal | None = None
    actions: list[Action] = msgspec.field(default_factory=list)
    age: str | None = None
    gender: str | None = None
    country: str | None = None


class CreatedObject(msgspec.Struct):
    """The answer to a create: ``{"id": "...", "success": true}``."""

    id: str
    success: bool = True


class Success(msgspec.Struct):
    """The answer to an update or delete: ``{"success": true}``."""

    success: bool = False


class MinimumBudget(msgspec.Struct, kw_only=True):
    """One node of ``GET /act_<id>/minimum_budgets``: daily minimums in the account currency's minor units,
    one per kind of optimization (frequent events like clicks, rare ones like app installs, impressions,
    video views)."""

    currency: str | None = None
    min_daily_budget_high_freq: int | None = None
    min_daily_budget_low_freq: int | None = None
    min_daily_budget_imp: int | None = None
    min_daily_budget_video_views: int | None = None


class ReportStarted(msgspec.Struct):
    """The answer to ``POST /<object>/insights``: the async report run's id."""

    report_run_id: str


class ReportRun(msgspec.Struct, kw_only=True):
    """``GET /<report_run_id>``: the status of an async report run (A3)."""

    id: str
    account_id: str | None = None
    async_status: str = ""
    async_percent_completion: int = 0
    time_ref: int | None = None
    time_completed: int | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None

    @property
    def completed(self) -> bool:
        """Rows can be read: "Job Completed" at 100 %."""
        return self.async_status == "Job Completed" and self.async_percent_completion >= 100

    @property
    def failed(self) -> bool:
        """The run will never complete: failed, or skipped (expired; submit again)."""
        return self.async_status in ("Job Failed", "Job Skipped")


class TokenGrant(msgspec.Struct):
    """``/oauth/access_token``: ``expires_in`` seconds, absent for tokens that do not expire."""

    access_token: str
    token_type: str | None = None
    expires_in: int | None = None


class _DebugError(msgspec.Struct):
    code: int | None = None
    message: str | None = None


class DebugToken(msgspec.Struct, kw_only=True):
    """The ``data`` of ``/debug_token`` (A1); ``expires_at`` 0 means never."""

    is_valid: bool = False
    app_id: str | None = None
    type: str | None = None
    user_id: str | None = None
    expires_at: int | None = None
    data_access_expires_at: int | None = None
    issued_at: int | None = None
    scopes: list[str] = msgspec.field(default_factory=list)
    error: _DebugError | None = None


class DebugEnvelope(msgspec.Struct):
    data: DebugToken


class AdsPixel(msgspec.Struct, kw_only=True):
    """A Meta pixel (dataset) of an ad account, as ``GET /act_<id>/adspixels`` lists it."""

    id: str
    name: str | None = None


class EventsReceived(msgspec.Struct):
    """The answer to ``POST /<pixel_id>/events`` (A3 CAPI): ``{"events_received", "messages", "fbtrace_id"}``.

    ``messages`` are Meta's warnings about accepted events; their shape is not documented, so we keep them as sent.
    """

    events_received: int = 0
    messages: list[object] = msgspec.field(default_factory=list)
    fbtrace_id: str | None = None


class UsersReceived(msgspec.Struct, kw_only=True):
    """The answer to ``POST``/``DELETE /<audience_id>/users``: rows Meta took, and how many it could not read."""

    audience_id: str | None = None
    session_id: int | None = None
    num_received: int = 0
    num_invalid_entries: int = 0
    invalid_entry_samples: dict[str, object] = msgspec.field(default_factory=dict)


class AudienceStatus(msgspec.Struct):
    """``operation_status`` / ``delivery_status``: ``{"code": 200, "description": "Normal"}``.

    ``operation_status.code`` 471 means the audience is flagged for integrity reasons and cannot be edited.
    """

    code: int | None = None
    description: str | None = None


class LookalikeSpec(msgspec.Struct, kw_only=True):
    """A lookalike's ``lookalike_spec`` as read back: ``ratio`` 0.01-0.20 of ``country``'s population."""

    ratio: float | None = None
    country: str | None = None
    starting_ratio: float | None = None
    type: str | None = None


class CustomAudience(msgspec.Struct, kw_only=True):
    """A custom or lookalike audience (``subtype`` CUSTOM or LOOKALIKE); Meta reports only a size range.

    ``approximate_count`` is the older single figure some API versions still send next to the bounds.
    """

    id: str
    account_id: str | None = None
    name: str | None = None
    subtype: str | None = None
    description: str | None = None
    customer_file_source: str | None = None
    approximate_count_lower_bound: int | None = None
    approximate_count_upper_bound: int | None = None
    approximate_count: int | None = None
    operation_status: AudienceStatus | None = None
    delivery_status: AudienceStatus | None = None
    time_created: int | None = None  # Unix seconds
    time_updated: int | None = None
    retention_days: int | None = None
    lookalike_spec: LookalikeSpec | None = None


def parse_graph_time(text: str) -> datetime:
    """``2026-08-01T12:00:00-1000`` (Graph's format) or RFC 3339 → an aware datetime; ValueError otherwise."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return datetime.fromisoformat(text)


# Built once; strict=False everywhere: "5000" decodes into an int field, "5339.5" into a Decimal.
ACCOUNT_PAGE = msgspec.json.Decoder(Page[AdAccount], strict=False)
CAMPAIGN_PAGE = msgspec.json.Decoder(Page[Campaign], strict=False)
INSIGHTS_PAGE = msgspec.json.Decoder(Page[InsightRow], strict=False)
ACCOUNT = msgspec.json.Decoder(AdAccount, strict=False)
CAMPAIGN = msgspec.json.Decoder(Campaign, strict=False)
CREATED = msgspec.json.Decoder(CreatedObject, strict=False)
SUCCESS = msgspec.json.Decoder(Success, strict=False)
MINIMUM_BUDGET_PAGE = msgspec.json.Decoder(Page[MinimumBudget], strict=False)
REPORT_STARTED = msgspec.json.Decoder(ReportStarted, strict=False)
REPORT_RUN = msgspec.json.Decoder(ReportRun, strict=False)
TOKEN_GRANT = msgspec.json.Decoder(TokenGrant, strict=False)
DEBUG_TOKEN = msgspec.json.Decoder(DebugEnvelope, strict=False)
EVENTS_RECEIVED = msgspec.json.Decoder(EventsReceived, strict=False)
PIXEL_PAGE = msgspec.json.Decoder(Page[AdsPixel], strict=False)
USERS_RECEIVED = msgspec.json.Decoder(UsersReceived, strict=False)
AUDIENCE = msgspec.json.Decoder(CustomAudience, strict=False)
