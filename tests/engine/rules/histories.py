"""A small hand-built campaign history shared by the rule engine's tests, with every figure worked out by
hand in test_figures.py: a 10-day campaign from 2027-03-01 (UTC, budget 100 USD), 14 baseline days of
100 streams, and data on later days than the tests' ``NOW`` that no figure at ``NOW`` may read."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from engine.analytics.attribution import BaselineRule
from engine.rules.figures import AdDay, CampaignHistory, ListenerDay

__all__ = ["BASELINE", "NOW", "TRACK", "day", "history"]

BASELINE = BaselineRule(days=14, min_days=7, max_noise=1.0)
NOW = datetime(2027, 3, 3, 12, tzinfo=UTC)  # half of the campaign's third day
TRACK = uuid.UUID("00000000-0000-0000-0000-00000000000a")


def day(n: int) -> date:
    """The campaign's ``n``-th UTC day (1 is 2027-03-01; 0 and below are baseline days)."""
    return date(2027, 3, 1) + timedelta(days=n - 1)


_HISTORY = CampaignHistory(
    campaign_id=uuid.UUID("00000000-0000-0000-0000-000000000001"),
    organization_id=uuid.UUID("00000000-0000-0000-0000-000000000002"),
    name="Spring single", status="active", currency="USD", budget=Decimal(100),
    start_date=datetime(2027, 3, 1, tzinfo=UTC), end_date=datetime(2027, 3, 10, 23, tzinfo=UTC),
    track_id=TRACK,
    ad_days={day(1): AdDay(spend_minor=1000, impressions=2000, clicks=20),
             day(2): AdDay(spend_minor=2000, impressions=3000, clicks=30),
             day(3): AdDay(spend_minor=3000, impressions=5000, clicks=50),
             day(4): AdDay(spend_minor=9900, impressions=99000, clicks=990)},
    stream_days={**{day(-i): 100 for i in range(14)}, day(1): 150, day(2): 200, day(3): 180, day(4): 9999},
    first_stream_day=day(-40),
    listener_days={day(1): ListenerDay(opted_in=3, plays=10), day(2): ListenerDay(opted_in=2, plays=7),
                   day(3): ListenerDay(opted_in=1, plays=4), day(4): ListenerDay(opted_in=50, plays=500)},
)


def history(**changes: Any) -> CampaignHistory:
    """The shared history with ``changes``."""
    return msgspec.structs.replace(_HISTORY, **changes)
