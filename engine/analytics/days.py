"""Whose day a moment falls on, pure: streams count UTC days, ad figures the ad account's days (its IANA
timezone, as Meta reports insights). The analytics and the rules both cut their periods with these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["account_day", "utc_day"]


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def account_day(moment: datetime, timezone: str | None) -> date:
    """The ad account's day at ``moment`` (UTC's when the zone is not known or not valid here)."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).date() if timezone else utc_day(moment)
    except (ZoneInfoNotFoundError, ValueError):
        return utc_day(moment)
