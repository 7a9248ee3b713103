"""An organization's totals for a period against the previous period of the same length.

Ad figures are summed over every campaign's facts (spend per currency: amounts in different currencies
are never added); streams are every track's streams (``track_day_streams``), so two campaigns of one
track do not count its streams twice. Incremental streams are the sum of the campaigns' own attributions
over the period and cost per incremental stream is per currency (``engine.analytics.incremental``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from engine.analytics.attribution import BaselineRule
from engine.analytics.incremental import CurrencyIncrement, PeriodIncrement, period_increment
from engine.analytics.model import Period, ratio
from engine.money import currency_offset
from engine.store import analytics as store
from engine.store import overview_inputs
from engine.store.rows import Queries

__all__ = ["Change", "CostPerIncrementalStream", "IncrementalStreamsChange", "Overview", "SpendChange", "change",
           "overview"]

Trend = Literal["up", "down", "flat"]


class Change(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``changePercent`` is None when the previous value is 0 (no base to compare with)."""

    current: int
    previous: int
    change: int
    change_percent: float | None
    trend: Trend


class SpendChange(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    currency: str
    current: Decimal
    previous: Decimal
    change: Decimal
    change_percent: float | None
    trend: Trend


class IncrementalStreamsChange(Change, frozen=True, kw_only=True, rename="camel"):
    """The campaigns' incremental streams: ``campaigns`` (``previousCampaigns``) were counted,
    ``campaignsLeftOut`` (``previousCampaignsLeftOut``) had no baseline."""

    campaigns: int
    campaigns_left_out: int
    previous_campaigns: int
    previous_campaigns_left_out: int


class CostPerIncrementalStream(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """In one currency: ``spend`` (the counted campaigns' spend in it) over their ``incrementalStreams``, None
    unless those are above 0; ``change``, ``changePercent`` and ``trend`` are None unless both periods have
    a cost."""

    currency: str
    current: Decimal | None
    previous: Decimal | None
    change: Decimal | None
    change_percent: float | None
    trend: Trend | None
    spend: Decimal
    previous_spend: Decimal
    incremental_streams: int
    previous_incremental_streams: int


class Overview(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    period: Period
    previous_period: Period
    spend: list[SpendChange]
    impressions: Change
    clicks: Change
    streams: Change
    # This and the next: our extension of the reference's answer.
    incremental_streams: IncrementalStreamsChange
    cost_per_incremental_stream: list[CostPerIncrementalStream]


def _trend(current: Decimal | int, previous: Decimal | int) -> tuple[float | None, Trend]:
    percent = None if previous == 0 else round(float((current - previous) * 100 / previous), 2)
    return percent, "up" if current > previous else "down" if current < previous else "flat"


def change(current: int, previous: int) -> Change:
    percent, trend = _trend(current, previous)
    return Change(current=current, previous=previous, change=current - previous, change_percent=percent,
                  trend=trend)


def _incremental(current: PeriodIncrement, previous: PeriodIncrement) -> IncrementalStreamsChange:
    return IncrementalStreamsChange(
        **msgspec.structs.asdict(change(current.incremental_streams, previous.incremental_streams)),
        campaigns=current.campaigns, campaigns_left_out=current.campaigns_left_out,
        previous_campaigns=previous.campaigns, previous_campaigns_left_out=previous.campaigns_left_out)


def _costs(current: PeriodIncrement, previous: PeriodIncrement) -> list[CostPerIncrementalStream]:
    costs = []
    none = CurrencyIncrement(spend_minor=0, incremental_streams=0)
    for currency in sorted(current.currencies.keys() | previous.currencies.keys()):
        unit = Decimal(currency_offset(currency))
        this, then = current.currencies.get(currency, none), previous.currencies.get(currency, none)
        spend, previous_spend = Decimal(this.spend_minor) / unit, Decimal(then.spend_minor) / unit
        cost, previous_cost = ratio(spend, this.incremental_streams), ratio(previous_spend, then.incremental_streams)
        percent, trend = (None, None) if cost is None or previous_cost is None else _trend(cost, previous_cost)
        costs.append(CostPerIncrementalStream(
            currency=currency, current=cost, previous=previous_cost,
            change=None if cost is None or previous_cost is None else cost - previous_cost, change_percent=percent,
            trend=trend, spend=spend, previous_spend=previous_spend, incremental_streams=this.incremental_streams,
            previous_incremental_streams=then.incremental_streams))
    return costs


async def _increments(q: Queries, org_id: uuid.UUID, period: Period, before: Period, rule: BaselineRule,
                      now: datetime) -> tuple[PeriodIncrement, PeriodIncrement]:
    """Both periods' incremental streams, from the same few queries however many campaigns there are."""
    campaigns = await overview_inputs.attributed_campaigns(q, org_id, before.start, period.end, now)
    if not campaigns:
        empty = PeriodIncrement(incremental_streams=0, campaigns=0, campaigns_left_out=0, currencies={})
        return empty, empty
    tracks = await overview_inputs.track_streams(q, org_id, campaigns, before.start, period.end,
                                                 baseline_days=rule.days)
    ids = [c.id for c in campaigns]
    spend = await overview_inputs.campaign_spend(q, org_id, ids, period.start, period.end)
    spent_before = await overview_inputs.campaign_spend(q, org_id, ids, before.start, before.end)
    return (period_increment(campaigns, period, tracks, spend, rule, now),
            period_increment(campaigns, before, tracks, spent_before, rule, now))


async def overview(q: Queries, org_id: uuid.UUID, period: Period, *, rule: BaselineRule,
                   now: datetime) -> Overview:
    """The period's totals against the previous period's; incremental streams with ``rule``'s baseline, up
    to ``now``."""
    length = (period.end - period.start).days + 1
    before = Period(start=period.start - timedelta(days=length), end=period.start - timedelta(days=1))
    now_ads = {t.currency: t for t in await store.ad_totals(q, org_id, period.start, period.end)}
    then_ads = {t.currency: t for t in await store.ad_totals(q, org_id, before.start, before.end)}
    empty = store.CurrencyTotals(currency="", spend_minor=0, impressions=0, clicks=0)
    spend = []
    for currency in sorted(now_ads.keys() | then_ads.keys()):
        unit = Decimal(currency_offset(currency))
        current = Decimal(now_ads.get(currency, empty).spend_minor) / unit
        previous = Decimal(then_ads.get(currency, empty).spend_minor) / unit
        percent, trend = _trend(current, previous)
        spend.append(SpendChange(currency=currency, current=current, previous=previous, change=current - previous,
                                 change_percent=percent, trend=trend))

    def total(ads: dict[str, store.CurrencyTotals], field: str) -> int:
        return sum(int(getattr(t, field)) for t in ads.values())

    increments = await _increments(q, org_id, period, before, rule, now)
    return Overview(
        period=period, previous_period=before, spend=spend,
        impressions=change(total(now_ads, "impressions"), total(then_ads, "impressions")),
        clicks=change(total(now_ads, "clicks"), total(then_ads, "clicks")),
        streams=change(await store.tracks_streams_total(q, org_id, period.start, period.end),
                       await store.tracks_streams_total(q, org_id, before.start, before.end)),
        incremental_streams=_incremental(*increments), cost_per_incremental_stream=_costs(*increments),
    )  # fmt: skip
