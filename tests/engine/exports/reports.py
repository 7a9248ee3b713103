"""Reports to render: realistic ones built by hand with fixed numbers, so goldens never move."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engine.analytics.model import (
    Attribution,
    Baseline,
    BudgetUse,
    CampaignAnalytics,
    GoalProgress,
    ListenerMatches,
    Period,
    Point,
    Summary,
    Timezones,
)

GENERATED_AT = datetime(2026, 4, 2, 7, 30, 15, tzinfo=UTC)


def points(start: date, count: int, *, yen: bool = False) -> list[Point]:
    """``count`` daily points with a weekly rhythm and a campaign bump in the middle."""
    result = []
    for i in range(count):
        bump = 3 if count // 3 <= i < 2 * count // 3 else 1
        spend = Decimal(1800 + 150 * (i % 7)) if yen else Decimal(1250 + 37 * (i % 7)).scaleb(-2)
        impressions = 4000 + 311 * (i % 5) + 97 * i
        clicks = impressions // 60
        result.append(Point(date=start + timedelta(days=i), spend=spend * bump, impressions=impressions * bump,
                            clicks=clicks * bump, streams=(900 + 53 * (i % 4)) * bump))
    return result


def summary(daily: list[Point], incremental: int | None, stream_value: Decimal | None) -> Summary:
    """The ratios as the analytics module defines them (docs/analytics.md), None on a zero denominator."""
    spend = sum((p.spend for p in daily), Decimal(0))
    impressions, clicks = sum(p.impressions for p in daily), sum(p.clicks for p in daily)
    streams = sum(p.streams for p in daily)
    roi = None
    if incremental is not None and stream_value is not None and spend:
        roi = float((incremental * stream_value - spend) / spend)
    return Summary(
        total_spend=spend, total_impressions=impressions, total_clicks=clicks, total_streams=streams,
        avg_ctr=clicks / impressions * 100 if impressions else None,
        avg_cpc=spend / clicks if clicks else None,
        avg_cpm=spend / impressions * 1000 if impressions else None,
        cost_per_stream=spend / streams if streams else None,
        cost_per_incremental_stream=spend / incremental if incremental and incremental > 0 else None,
        roi=roi,
    )


def report(
    *, name: str = "Midnight Drive — spring push", currency: str = "USD", daily: list[Point] | None = None,
    confidence: str = "high", stream_value: Decimal | None = Decimal("0.0035"),
) -> CampaignAnalytics:
    """A campaign report over ``daily`` (30 points from 2026-03-01 by default)."""
    daily = points(date(2026, 3, 1), 30, yen=currency == "JPY") if daily is None else daily
    start, end = daily[0].date, daily[-1].date
    days = (end - start).days + 1
    during = sum(p.streams for p in daily)
    observed = 0 if confidence == "none" else 28
    mean = None if confidence == "none" else 912.5
    expected = None if mean is None else mean * days
    incremental = None if expected is None else during - round(expected)
    return CampaignAnalytics(
        campaign_id=uuid.UUID("6f1c2a9e-4b7d-4c1e-9a55-0d3e2f8b7c61"), campaign_name=name, currency=currency,
        period=Period(start=start, end=end), granularity="day",
        timezones=Timezones(ads="America/Los_Angeles", streams="UTC"),
        summary=summary(daily, incremental, stream_value),
        attribution=Attribution(
            campaign_start=start, campaign_end=end, campaign_days=days, elapsed_days=float(days),
            streams_during=during,
            baseline=Baseline(start=start - timedelta(days=28), end=start - timedelta(days=1), days=28,
                              observed_days=observed, streams=round((mean or 0) * observed), daily_mean=mean,
                              daily_stddev=None if mean is None else 41.25),
            expected_streams=expected, incremental_streams=incremental,
            confidence=confidence,  # type: ignore[arg-type]
            reasons={"high": [], "low": ["baseline shorter than 14 days", "baseline too noisy"],
                     "none": ["no baseline day observed"]}[confidence],
            listeners=ListenerMatches(listeners_opted_in=412, listeners_matched=187, plays=1093),
            stream_value=stream_value,
        ),
        daily=daily, generated_at=GENERATED_AT,
        budget=BudgetUse(budget=Decimal("1000.00") if currency != "JPY" else Decimal(150000),
                         spent=sum((p.spend for p in daily), Decimal(0)), used_percent=68.09),
        goals=[GoalProgress(metric="streams", target=100_000, reached=during, percent=round(during / 1000, 2))],
    )


def yen_report() -> CampaignAnalytics:
    """A JPY campaign: no decimals in its money."""
    return report(name="東京ナイト Tokyo Night", currency="JPY", stream_value=Decimal("0.5"))


def no_baseline_report() -> CampaignAnalytics:
    """Confidence "none": no incremental streams, no ROI, and no clicks or streams (every ratio None)."""
    daily = [Point(date=date(2026, 3, 1) + timedelta(days=i), spend=Decimal("0.00"), impressions=0, clicks=0,
                   streams=0) for i in range(5)]
    return report(name="Cold start", daily=daily, confidence="none", stream_value=None)


def single_point_report() -> CampaignAnalytics:
    """One day only."""
    return report(name="One-day drop", daily=points(date(2026, 3, 14), 1), confidence="low")
