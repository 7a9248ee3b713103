"""A campaign's analytics from the store: the summary, the attribution and the series of a period.

The period is UTC-free on purpose: its days are the ad account's days for ad figures and UTC days for
streams (``Timezones`` says which), the way each source reports them; we never split a provider's day.
Defaults: the campaign's first day to its last, or to today while it runs. Streams (``totalStreams``, cost
per stream, the series) count only the campaign's own UTC days within the period, whatever the period.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import msgspec

from config.sections import AnalyticsSettings
from engine.analytics.attribution import BaselineRule, attribute, baseline_of
from engine.analytics.days import account_day, elapsed_days, utc_day
from engine.analytics.model import (
    Attribution,
    BudgetUse,
    CampaignAnalytics,
    GoalProgress,
    Granularity,
    ListenerMatches,
    Period,
    Summary,
    Timezones,
    ratio,
)
from engine.analytics.series import DayFigures, points
from engine.money import currency_offset
from engine.store import analytics as store
from engine.store.campaign_model import Goal
from engine.store.rows import Queries

__all__ = ["MAX_PERIOD_DAYS", "AnalyticsRules", "PeriodError", "campaign_analytics", "resolve_period"]

MAX_PERIOD_DAYS = 3 * 366


class AnalyticsRules(msgspec.Struct, frozen=True, kw_only=True):
    """``[analytics]`` as the model needs it."""

    baseline_days: int = 28
    min_baseline_days: int = 7
    max_baseline_noise: float = 1.0
    stream_values: Mapping[str, Decimal] = {}

    @classmethod
    def from_settings(cls, settings: AnalyticsSettings) -> AnalyticsRules:
        return cls(baseline_days=settings.baseline_days, min_baseline_days=settings.min_baseline_days,
                   max_baseline_noise=settings.max_baseline_noise, stream_values=settings.values())

    def rule(self) -> BaselineRule:
        return BaselineRule(days=self.baseline_days, min_days=self.min_baseline_days,
                            max_noise=self.max_baseline_noise)


class PeriodError(ValueError):
    """The requested period is unusable: ``field`` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def resolve_period(frame: store.CampaignFrame, start: date | None, end: date | None, today: date,
                   last_ad_day: date | None = None) -> Period:
    """The period asked for, or by default the days of the campaign's flight in both sources' days (an ad
    account west of UTC starts it a day earlier, one east of UTC ends it a day later), up to today while
    it runs, or up to its newest ad day when that is later (an ad account east of UTC is already in
    tomorrow). Raises PeriodError."""
    tz = frame.ads_timezone
    first = min(utc_day(frame.start_date), account_day(frame.start_date, tz))
    last = max(utc_day(frame.end_date), account_day(frame.end_date, tz))
    start = first if start is None else start
    latest = today if last_ad_day is None else max(today, last_ad_day)
    end = (max(start, min(last, latest)) if end is None else end)
    if end < start:
        raise PeriodError("endDate", "endDate must not be before startDate")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError("endDate", f"a period may span at most {MAX_PERIOD_DAYS} days")
    return Period(start=start, end=end)


def _summary(spend: Decimal, impressions: int, clicks: int, streams: int, attribution: Attribution) -> Summary:
    incremental, value = attribution.incremental_streams, attribution.stream_value
    roi = None
    if spend > 0 and incremental is not None and value is not None:
        roi = round(float((incremental * value - spend) / spend), 6)
    return Summary(
        total_spend=spend, total_impressions=impressions, total_clicks=clicks, total_streams=streams,
        avg_ctr=round(100 * clicks / impressions, 6) if impressions else None,
        avg_cpc=ratio(spend, clicks), avg_cpm=ratio(spend, impressions, 1000),
        cost_per_stream=ratio(spend, streams),
        cost_per_incremental_stream=ratio(spend, incremental if incremental and incremental > 0 else None),
        roi=roi,
    )  # fmt: skip


async def campaign_analytics(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID, *, start: date | None,
                             end: date | None, granularity: Granularity, rules: AnalyticsRules,
                             now: datetime) -> CampaignAnalytics | None:
    """The organization's campaign's analytics (None: no such campaign). Raises PeriodError."""
    frame = await store.campaign_frame(q, org_id, campaign_id)
    if frame is None:
        return None
    newest = None if end is not None else await store.last_ad_day(q, org_id, campaign_id)
    period = resolve_period(frame, start, end, utc_day(now), newest)
    ads = {d.day: d for d in await store.ad_days(q, org_id, campaign_id, frame.currency, period.start, period.end)}
    first = utc_day(frame.start_date)
    rule = rules.rule()
    streams: dict[date, int] = {}
    first_data = None
    if frame.track_id is not None:
        since = min(period.start, first - timedelta(days=rule.days))
        streams = {d.day: d.streams for d in await store.stream_days(q, org_id, frame.track_id, since, period.end)}
        first_data = await store.first_stream_day(q, org_id, frame.track_id)
    window_start, window_end = max(first, period.start), min(utc_day(frame.end_date), period.end)
    last_begun, elapsed = elapsed_days(window_start, window_end, now)
    during = sum(v for day, v in streams.items() if window_start <= day <= last_begun)
    listener_since = max(frame.start_date, datetime.combine(period.start, time(), UTC))
    listener_until = min(frame.end_date, datetime.combine(period.end + timedelta(days=1), time(), UTC), now)
    counts = await store.listener_counts(q, org_id, campaign_id, listener_since, listener_until)
    attribution = attribute(
        campaign_start=window_start, campaign_end=window_end, elapsed_days=elapsed, streams_during=during,
        baseline=baseline_of(first, streams, first_data, rule),
        listeners=ListenerMatches(listeners_opted_in=counts.opted_in, listeners_matched=counts.matched,
                                  plays=counts.plays),
        rule=rule, has_track=frame.track_id is not None, stream_value=rules.stream_values.get(frame.currency.upper()),
    )  # fmt: skip
    # The campaign's streams are those of its own UTC days: a day of the period before or after it (an ad
    # account's timezone widens the default period by one) is the baseline's, not the campaign's.
    own = {day: v for day, v in streams.items() if window_start <= day <= window_end}
    days: dict[date, DayFigures] = {}
    for day in set(ads) | set(own):
        ad = ads.get(day)
        days[day] = (ad.spend_minor, ad.impressions, ad.clicks, own.get(day, 0)) if ad else (0, 0, 0, own.get(day, 0))
    unit = currency_offset(frame.currency)
    spend = Decimal(sum(d.spend_minor for d in ads.values())) / unit
    summary = _summary(spend, sum(d.impressions for d in ads.values()), sum(d.clicks for d in ads.values()),
                       sum(v for v in (f[3] for f in days.values())), attribution)
    return CampaignAnalytics(
        campaign_id=frame.id, campaign_name=frame.name, currency=frame.currency, period=period,
        granularity=granularity, timezones=Timezones(ads=frame.ads_timezone or "UTC"), summary=summary,
        attribution=attribution, daily=points(period.start, period.end, granularity, days, unit), generated_at=now,
        budget=_budget_use(frame.budget, frame.budget_spent), goals=_goal_progress(frame.goals, frame.totals),
    )  # fmt: skip


def _budget_use(budget: Decimal, spent: Decimal) -> BudgetUse:
    used = None if budget <= 0 else round(float(spent * 100 / budget), 2)
    return BudgetUse(budget=budget, spent=spent, used_percent=used)


def _goal_progress(goals: Sequence[Goal], totals: Mapping[str, int]) -> list[GoalProgress]:
    """Each goal against the campaign's running total of its metric."""
    return [GoalProgress(metric=g.metric, target=g.target, reached=totals.get(g.metric, 0),
                         percent=round(totals.get(g.metric, 0) * 100 / g.target, 2) if g.target > 0 else 0.0)
            for g in goals]
