"""What the analytics routes, the exports and the daily report say about a campaign: plain Structs.

Money is a ``Decimal`` in the campaign's currency (major units). Ratios whose denominator is zero are
``None`` (never 0 or infinity). Days are calendar dates: ad figures are the ad account's days (its
timezone, as Meta reports them), stream figures are UTC days (as stream reports and events count them);
``Timezones`` names both so a reader can see the shift. The definitions of every figure are in
``docs/analytics.md``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import msgspec

__all__ = [
    "Attribution",
    "Baseline",
    "BudgetUse",
    "CampaignAnalytics",
    "Confidence",
    "GoalProgress",
    "Granularity",
    "ListenerMatches",
    "Period",
    "Point",
    "Summary",
    "Timezones",
    "ratio",
]

Granularity = Literal["day", "week", "month"]
Confidence = Literal["high", "low", "none"]

_RATIO = Decimal("0.000001")


class Timezones(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whose days the figures are: ``ads`` is the ad account's IANA zone ("UTC" when not linked)."""

    ads: str
    streams: str = "UTC"


class Period(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The requested days, both ends included."""

    start: date
    end: date


class Point(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One period of the series: ``date`` is its first day (a Monday for weeks, the 1st for months, but
    never before the requested start)."""

    date: date
    spend: Decimal
    impressions: int
    clicks: int
    streams: int


class Summary(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Totals of the period and the ratios derived from them (see docs/analytics.md)."""

    total_spend: Decimal
    total_impressions: int
    total_clicks: int
    total_streams: int
    avg_ctr: float | None  # clicks / impressions * 100
    avg_cpc: Decimal | None  # spend / clicks
    avg_cpm: Decimal | None  # spend / impressions * 1000
    cost_per_stream: Decimal | None  # spend / streams
    cost_per_incremental_stream: Decimal | None  # spend / incremental streams (None unless > 0)
    roi: float | None  # (incremental streams * stream value - spend) / spend


class Baseline(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The N UTC days before the campaign started: ``observed_days`` of them had stream data (days before
    the track's first known stream day are not observed), whose daily mean and standard deviation these
    are."""

    start: date
    end: date
    days: int
    observed_days: int
    streams: int
    daily_mean: float | None
    daily_stddev: float | None


class ListenerMatches(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Opted-in fans: plays of the track after the fan connected through the campaign's link, within the
    period."""

    listeners_opted_in: int
    listeners_matched: int
    plays: int


class Attribution(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Incremental streams = streams during - baseline daily mean * campaign days (may be negative).

    ``confidence`` is "none" when no baseline day was observed (``incremental_streams`` is then None),
    "low" when the baseline is shorter than the minimum or too noisy (``reasons`` says which), else "high".
    """

    model: Literal["baseline"] = "baseline"
    campaign_start: date
    campaign_end: date
    campaign_days: int
    elapsed_days: float  # campaign days that have passed (a day in progress counts its elapsed fraction)
    streams_during: int
    baseline: Baseline
    expected_streams: float | None
    incremental_streams: int | None
    confidence: Confidence
    reasons: list[str]
    listeners: ListenerMatches
    stream_value: Decimal | None  # per stream in the campaign's currency, from [analytics] (None: not set)


class BudgetUse(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The campaign's budget and what it has spent over all its days, as its guardrail counts it; not
    limited to the period. ``usedPercent`` is None for a budget of 0."""

    budget: Decimal
    spent: Decimal
    used_percent: float | None


class GoalProgress(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One of the campaign's goals and its running total over all its days (what the goal alerts watch)."""

    metric: str
    target: int
    reached: int
    percent: float  # reached / target x 100, 2 places


class CampaignAnalytics(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /v1/analytics/campaigns/{id}``, and what an export renders."""

    campaign_id: uuid.UUID
    campaign_name: str
    currency: str
    period: Period
    granularity: Granularity
    timezones: Timezones
    summary: Summary
    attribution: Attribution
    daily: list[Point]  # the reference's name; one point per period of ``granularity``, oldest first
    generated_at: datetime
    # Extensions of the reference: what a report a label manager forwards states next to the figures.
    budget: BudgetUse | None = None
    goals: list[GoalProgress] = []


def ratio(numerator: Decimal, denominator: int | Decimal | None, scale: int = 1) -> Decimal | None:
    """``numerator * scale / denominator`` to 6 decimal places; None unless the denominator is above 0."""
    if not denominator or denominator <= 0:
        return None
    return (numerator * scale / Decimal(denominator)).quantize(_RATIO)
