"""An organization's incremental streams in a period, pure: the sum of its campaigns' own attributions.

Each campaign with a track whose UTC days overlap the period, and that has started, counts what its campaign
page counts for that period (``attribute``, with the baseline of the days before its first day): its
track's streams on the overlapping days up to now, less its baseline daily mean times those days (today by
the fraction gone). A campaign without a baseline (confidence "none") is left out and counted. Two campaigns
of one track that run at the same time each count their own, so their increments may overlap: we do not
split a day's streams between them. Cost per incremental stream is per currency: the included campaigns'
spend in it over their incremental streams. docs/analytics.md says the same in prose.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime

import msgspec

from engine.analytics.attribution import BaselineRule, attribute, baseline_of
from engine.analytics.days import elapsed_days, utc_day
from engine.analytics.model import ListenerMatches, Period

__all__ = ["AttributedCampaign", "CurrencyIncrement", "PeriodIncrement", "TrackStreams", "campaign_increment",
           "period_increment"]

_NO_FANS = ListenerMatches(listeners_opted_in=0, listeners_matched=0, plays=0)  # fans do not change the figure


class AttributedCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign with a track, as the overview attributes it; ``currency`` is upper case."""

    id: uuid.UUID
    currency: str
    track_id: uuid.UUID
    start_date: datetime
    end_date: datetime


class TrackStreams(msgspec.Struct, frozen=True, kw_only=True):
    """A track's streams per UTC day (days without data left out) and its first day with any data."""

    days: dict[date, int]
    first_day: date | None


class CurrencyIncrement(msgspec.Struct, frozen=True, kw_only=True):
    """The included campaigns of one currency: their spend in it (minor units) and incremental streams."""

    spend_minor: int
    incremental_streams: int


class PeriodIncrement(msgspec.Struct, frozen=True, kw_only=True):
    incremental_streams: int
    campaigns: int  # included: they have a baseline
    campaigns_left_out: int  # no baseline day observed
    currencies: dict[str, CurrencyIncrement]


def campaign_increment(campaign: AttributedCampaign, period: Period, track: TrackStreams, rule: BaselineRule,
                       now: datetime) -> int | None:
    """The campaign's incremental streams over its UTC days in ``period`` up to ``now``, as its attribution
    for that period says them; None when it has no baseline. The caller checks that it overlaps."""
    first = utc_day(campaign.start_date)
    start, end = max(first, period.start), min(utc_day(campaign.end_date), period.end)
    last_begun, elapsed = elapsed_days(start, end, now)
    during = sum(v for day, v in track.days.items() if start <= day <= last_begun)
    return attribute(
        campaign_start=start, campaign_end=end, elapsed_days=elapsed, streams_during=during,
        baseline=baseline_of(first, track.days, track.first_day, rule), listeners=_NO_FANS, rule=rule,
        has_track=True, stream_value=None,
    ).incremental_streams  # fmt: skip


def _counts(campaign: AttributedCampaign, period: Period, now: datetime) -> bool:
    """Whether the campaign has begun and some of its UTC days in ``period`` have begun."""
    start = max(utc_day(campaign.start_date), period.start)
    return campaign.start_date <= now and start <= min(utc_day(campaign.end_date), period.end, utc_day(now))


def period_increment(campaigns: Iterable[AttributedCampaign], period: Period, tracks: Mapping[uuid.UUID, TrackStreams],
                     spend_minor: Mapping[uuid.UUID, int], rule: BaselineRule, now: datetime) -> PeriodIncrement:
    """The sum over ``campaigns`` that count in ``period`` (``tracks`` holds each one's track, ``spend_minor``
    its spend in its currency over the period's ad days; absent: none)."""
    total = included = left_out = 0
    currencies: dict[str, CurrencyIncrement] = {}
    no_data = TrackStreams(days={}, first_day=None)
    for campaign in campaigns:
        if not _counts(campaign, period, now):
            continue
        increment = campaign_increment(campaign, period, tracks.get(campaign.track_id, no_data), rule, now)
        if increment is None:
            left_out += 1
            continue
        included, total = included + 1, total + increment
        known = currencies.get(campaign.currency, CurrencyIncrement(spend_minor=0, incremental_streams=0))
        currencies[campaign.currency] = CurrencyIncrement(
            spend_minor=known.spend_minor + spend_minor.get(campaign.id, 0),
            incremental_streams=known.incremental_streams + increment)
    return PeriodIncrement(incremental_streams=total, campaigns=included, campaigns_left_out=left_out,
                           currencies=currencies)
