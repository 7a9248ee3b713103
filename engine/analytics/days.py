"""Whose day a moment falls on, pure: streams count UTC days, ad figures the ad account's days (its IANA
timezone, as Meta reports insights). The analytics and the rules both cut their periods with these; the
attribution counts a range's elapsed UTC days with ``elapsed_days``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["account_day", "elapsed_days", "utc_day"]


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def account_day(moment: datetime, timezone: str | None) -> date:
    """The ad account's day at ``moment`` (UTC's when the zone is not known or not valid here)."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).date() if timezone else utc_day(moment)
    except (ZoneInfoNotFoundError, ValueError):
        return utc_day(moment)


def elapsed_days(first: date, last: date, now: datetime) -> tuple[date, float]:
    """The last UTC day of ``first``..``last`` that has begun at ``now``, and how many days of the range
    have passed (today by the fraction of it gone); before the range, the day before ``first`` and 0."""
    today = utc_day(now)
    if first > today or first > last:
        return first - timedelta(days=1), 0.0
    if last < today:
        return last, float((last - first).days + 1)
    midnight = datetime.combine(today, time(), UTC)
    return today, (today - first).days + (now.astimezone(UTC) - midnight) / timedelta(days=1)
