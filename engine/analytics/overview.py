"""An organization's totals for a period against the previous period of the same length.

Ad figures are summed over every campaign's facts (spend per currency: amounts in different currencies
are never added); streams are every track's streams (``track_day_streams``), so two campaigns of one
track do not count its streams twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from engine.analytics.model import Period
from engine.money import currency_offset
from engine.store import analytics as store
from engine.store.rows import Queries

__all__ = ["Change", "Overview", "SpendChange", "change", "overview"]

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


class Overview(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    period: Period
    previous_period: Period
    spend: list[SpendChange]
    impressions: Change
    clicks: Change
    streams: Change


def _trend(current: Decimal | int, previous: Decimal | int) -> tuple[float | None, Trend]:
    percent = None if previous == 0 else round(float((current - previous) * 100 / previous), 2)
    return percent, "up" if current > previous else "down" if current < previous else "flat"


def change(current: int, previous: int) -> Change:
    percent, trend = _trend(current, previous)
    return Change(current=current, previous=previous, change=current - previous, change_percent=percent,
                  trend=trend)


async def overview(q: Queries, org_id: uuid.UUID, period: Period) -> Overview:
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

    return Overview(
        period=period, previous_period=before, spend=spend,
        impressions=change(total(now_ads, "impressions"), total(then_ads, "impressions")),
        clicks=change(total(now_ads, "clicks"), total(then_ads, "clicks")),
        streams=change(await store.tracks_streams_total(q, org_id, period.start, period.end),
                       await store.tracks_streams_total(q, org_id, before.start, before.end)),
    )  # fmt: skip
