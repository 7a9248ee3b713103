"""A campaign's figures over a window, pure: what a rule's condition reads (``model.FIELDS``).

The input is the campaign's stored history (``CampaignHistory``: its ad days, its track's stream days, its
fans' plays) and the instant of the evaluation; nothing after that instant is read, so evaluating at a past
instant (a preview) sees what a live evaluation saw then. Providers report days, so a window of ``hours``
is the last ``ceil(hours / 24)`` days up to the instant's day, each source in its own days (the ad
account's for Meta, UTC for streams, as in the analytics), cut to the campaign's own days.

A figure the engine does not trust is returned with the reason (``Figure.untrusted``) and a rule does not
act on it: the campaign has not started, the window reaches back before it started (it is not full yet), the
baseline behind an incremental figure is missing, short or noisy (``engine.analytics.attribution``), or a
ratio has nothing to divide by.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import msgspec

from engine.analytics.attribution import BaselineRule, baseline_of
from engine.analytics.days import account_day, utc_day
from engine.analytics.model import Baseline
from engine.money import currency_offset
from engine.rules.model import CAMPAIGN_FIELDS

__all__ = ["AdDay", "CampaignHistory", "Figure", "ListenerDay", "figure"]

_RATIO = Decimal("0.000001")


class AdDay(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    spend_minor: int
    impressions: int
    clicks: int


class ListenerDay(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Fans who opted in that UTC day, and their plays of the track that day (after opting in)."""

    opted_in: int
    plays: int


class CampaignHistory(msgspec.Struct, frozen=True, kw_only=True):
    """What the figures of one campaign are computed from. ``stream_days`` are the track's UTC days (the
    baseline's days before the campaign included); ``first_stream_day`` is the track's first day with data."""

    campaign_id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: str
    currency: str
    budget: Decimal
    start_date: datetime
    end_date: datetime
    track_id: uuid.UUID | None = None
    ads_timezone: str | None = None
    ad_days: dict[date, AdDay] = {}
    stream_days: dict[date, int] = {}
    first_stream_day: date | None = None
    listener_days: dict[date, ListenerDay] = {}


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    """A figure's value (``None``: it has none, e.g. a ratio over 0) and, when the engine does not trust it,
    why (``untrusted``)."""

    value: Decimal | str | None
    untrusted: str | None = None


def _money(minor: int, unit: Decimal) -> Decimal:
    """Minor units as major ones, with the currency's places (``10.00`` USD, ``1000`` JPY)."""
    return (Decimal(minor) / unit).quantize(1 / unit)


def _ratio(numerator: Decimal, denominator: Decimal | int, scale: int = 1) -> Decimal | None:
    return None if denominator <= 0 else (numerator * scale / Decimal(denominator)).quantize(_RATIO)


class _Window:
    """The days of one source a window covers, whether the campaign has started by ``today``, and whether
    the window reaches back before the campaign."""

    def __init__(self, today: date, first: date, last: date, hours: int | None) -> None:
        back = first if hours is None else today - timedelta(days=math.ceil(hours / 24) - 1)
        self.start, self.end = max(first, back), min(today, last)
        self.started, self.partial = today >= first, back < first
        self.days = max(0, (self.end - self.start).days + 1)


def figure(history: CampaignHistory, field: str, hours: int | None, now: datetime,
           baseline: BaselineRule) -> Figure:
    """``field`` of the campaign over the last ``hours`` (``None``: the campaign so far) as of ``now``."""
    if field == "status":
        return Figure(value=history.status)
    if field == "name":
        return Figure(value=history.name)
    unit = Decimal(currency_offset(history.currency))  # money: minor units / unit, to the minor unit
    ads_today = account_day(now, history.ads_timezone)
    if field in ("budget", "budgetSpent", "budgetUsed"):
        spent = _money(sum(d.spend_minor for day, d in history.ad_days.items() if day <= ads_today), unit)
        value = {"budget": history.budget, "budgetSpent": spent,
                 "budgetUsed": _ratio(spent, history.budget, 100)}[field]
        return Figure(value=value, untrusted=None if value is not None else "the budget is 0")
    window_hours = None if field in CAMPAIGN_FIELDS else hours
    ads = _Window(ads_today, account_day(history.start_date, history.ads_timezone),
                  account_day(history.end_date, history.ads_timezone), window_hours)
    streams = _Window(utc_day(now), utc_day(history.start_date), utc_day(history.end_date), window_hours)
    # A figure that reads both sources is whole only when both of its windows are.
    partial = _partial([ads] if field in _META_FIELDS else [streams] if field in _STREAM_FIELDS else [ads, streams],
                       hours)
    if history.track_id is None and field in _TRACK_FIELDS:
        return Figure(value=None, untrusted="the campaign has no track, so it has no streams")
    # Only what the field reads, over the window's own days (a few, where the history holds months).
    spend_minor, impressions, clicks = _ad_sums(history, ads) if field in _READS_ADS else (0, 0, 0)
    spend = _money(spend_minor, unit)
    streamed = sum(history.stream_days.get(day, 0) for day in _days(streams)) if field in _READS_STREAMS else 0
    if field in _AD_FIELDS:
        value = {
            "spend": spend, "impressions": Decimal(impressions), "clicks": Decimal(clicks),
            "dailySpend": _ratio(spend, ads.days), "ctr": _ratio(Decimal(clicks), impressions, 100),
            "cpc": _ratio(spend, clicks), "cpm": _ratio(spend, impressions, 1000),
        }[field]
        return _checked(value, partial, field)
    if field == "pacing":
        return _pacing(history, spend, ads, ads_today, unit, partial)
    if field in ("streams", "dailyStreams", "streamsPerMille", "costPerStream"):
        value = {"streams": Decimal(streamed), "dailyStreams": _ratio(Decimal(streamed), streams.days),
                 "streamsPerMille": _ratio(Decimal(streamed), impressions, 1000),
                 "costPerStream": _ratio(spend, streamed)}[field]
        return _checked(value, partial, field)
    if field in ("listenersOptedIn", "listenerPlays"):
        if field == "listenersOptedIn":
            fans = sum(d.opted_in for day, d in history.listener_days.items() if day <= utc_day(now))
            return Figure(value=Decimal(fans))
        plays = sum(d.plays for d in (history.listener_days.get(day) for day in _days(streams)) if d)
        return _checked(Decimal(plays), partial, field)
    return _incremental(history, field, now, streams, streamed, spend, baseline, partial)


_AD_FIELDS = frozenset({"spend", "dailySpend", "impressions", "clicks", "ctr", "cpc", "cpm"})
_META_FIELDS = _AD_FIELDS | {"pacing"}
_STREAM_FIELDS = frozenset({"streams", "dailyStreams", "incrementalStreams", "listenerPlays"})
_READS_ADS = _META_FIELDS | {"streamsPerMille", "costPerStream", "costPerIncrementalStream"}
_READS_STREAMS = frozenset({"streams", "dailyStreams", "streamsPerMille", "costPerStream", "incrementalStreams",
                            "costPerIncrementalStream"})
# Figures of the track's streams or plays: a campaign without a track has none (not 0).
_TRACK_FIELDS = frozenset({"streams", "dailyStreams", "streamsPerMille", "costPerStream", "listenerPlays"})


def _days(window: _Window) -> Iterator[date]:
    """The days of ``window``, oldest first."""
    for offset in range(window.days):
        yield window.start + timedelta(days=offset)


def _ad_sums(history: CampaignHistory, window: _Window) -> tuple[int, int, int]:
    spend = impressions = clicks = 0
    for day in _days(window):
        figures = history.ad_days.get(day)
        if figures is not None:
            spend, impressions, clicks = (spend + figures.spend_minor, impressions + figures.impressions,
                                          clicks + figures.clicks)
    return spend, impressions, clicks


def _partial(windows: list[_Window], hours: int | None) -> str | None:
    if not all(window.started for window in windows):
        return "the campaign has not started: its figures are not counted yet"
    if not any(window.partial for window in windows):
        return None
    return f"the window of {hours} h reaches back before the campaign started: it is not full yet"


def _checked(value: Decimal | None, partial: str | None, field: str) -> Figure:
    if value is None:
        return Figure(value=None, untrusted=f"{field} has no value: nothing to divide by in the window")
    return Figure(value=value, untrusted=partial)


def _pacing(history: CampaignHistory, spend: Decimal, ads: _Window, ads_today: date, unit: Decimal,
            partial: str | None) -> Figure:
    """Projected spend at the end date, as a percent of the budget: spent so far plus the window's daily
    spend over the days left after today."""
    if history.budget <= 0:
        return Figure(value=None, untrusted="the budget is 0")
    spent = _money(sum(d.spend_minor for day, d in history.ad_days.items() if day <= ads_today), unit)
    left = max(0, (account_day(history.end_date, history.ads_timezone) - ads_today).days)
    # A window past the end date has no days, and nothing is left to spend then either.
    projected = spent + (spend / ads.days * left if ads.days else 0)
    return Figure(value=_ratio(projected, history.budget, 100), untrusted=partial)


def _incremental(history: CampaignHistory, field: str, now: datetime, streams: _Window, streamed: int,
                 spend: Decimal, rule: BaselineRule, partial: str | None) -> Figure:
    if history.track_id is None:
        return Figure(value=None, untrusted="the campaign has no track, so it has no streams")
    first = utc_day(history.start_date)
    if utc_day(now) < first:  # the baseline's last days are still to come: reading them would look ahead
        return Figure(value=None, untrusted="the campaign has not started: its baseline is not complete yet")
    known = {day: v for day, v in history.stream_days.items() if day < first}
    seen = history.first_stream_day
    seen_first = seen if seen is not None and seen <= utc_day(now) else None
    base = baseline_of(first, known, seen_first, rule)
    if base.observed_days == 0 or base.daily_mean is None:
        return Figure(value=None, untrusted=f"no stream data in the {base.days} days before the campaign")
    if field == "baselineDailyStreams":
        return Figure(value=Decimal(repr(base.daily_mean)).quantize(_RATIO), untrusted=_thin(base, rule))
    midnight = datetime.combine(utc_day(now), time(), UTC)
    elapsed = streams.days - (0 if streams.end < utc_day(now) else 1 - (now - midnight) / timedelta(days=1))
    incremental = Decimal(round(streamed - base.daily_mean * max(0.0, elapsed)))
    untrusted = _thin(base, rule) or partial
    if field == "incrementalStreams":
        return Figure(value=incremental, untrusted=untrusted)
    value = _ratio(spend, incremental) if incremental > 0 else None
    if value is None:
        return Figure(value=None, untrusted="no incremental streams in the window: nothing to divide by")
    return Figure(value=value, untrusted=untrusted)


def _thin(base: Baseline, rule: BaselineRule) -> str | None:
    observed, mean, stddev = base.observed_days, base.daily_mean or 0.0, base.daily_stddev or 0.0
    if observed < rule.min_days:
        return f"the baseline has {observed} observed days, fewer than the minimum of {rule.min_days}"
    if mean > 0 and stddev / mean > rule.max_noise:
        return f"the baseline is too noisy: its standard deviation is {stddev / mean:.2f} times its mean"
    return None
