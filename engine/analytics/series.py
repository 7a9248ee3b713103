"""Days into periods, pure: the series of a campaign at day, week or month granularity.

Every period between the start and the end is present (a period without figures is zeros), oldest first.
A week starts on Monday and a month on its 1st, but the first period starts at the requested start: a
point's ``date`` is the first day it covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from engine.analytics.model import Granularity, Point

__all__ = ["DayFigures", "period_start", "points"]

DayFigures = tuple[int, int, int, int]  # spend in minor units, impressions, clicks, streams


def period_start(day: date, granularity: Granularity) -> date:
    """The first day of the period ``day`` is in (not clipped to any range)."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def points(start: date, end: date, granularity: Granularity, days: Mapping[date, DayFigures],
           minor_per_major: int) -> list[Point]:
    """The periods from ``start`` to ``end`` (both included) with the sums of ``days`` in them; spend is
    converted to major units."""
    sums: dict[date, list[int]] = {}
    day = start
    while day <= end:
        key = max(period_start(day, granularity), start)
        total = sums.setdefault(key, [0, 0, 0, 0])
        for i, value in enumerate(days.get(day, (0, 0, 0, 0))):
            total[i] += value
        day += timedelta(days=1)
    unit = Decimal(minor_per_major)
    return [Point(date=key, spend=Decimal(s) / unit, impressions=i, clicks=c, streams=st)
            for key, (s, i, c, st) in sums.items()]
