"""Property tests: any report (1 to 400 points, any unicode in its texts, None anywhere the model allows it)
renders in every format without raising, and its CSV reads back equal to its points."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analytics.model import (
    Attribution,
    Baseline,
    CampaignAnalytics,
    ListenerMatches,
    Period,
    Point,
    Summary,
    Timezones,
)
from engine.exports import render
from engine.money import currency_places

COUNTS = st.integers(min_value=0, max_value=10**12)
FLOATS = st.none() | st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
RATIOS = st.none() | st.decimals(min_value=0, max_value=10**6, places=6)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1))


@st.composite
def reports(draw: st.DrawFn) -> CampaignAnalytics:
    currency = draw(st.sampled_from(["USD", "EUR", "GBP", "JPY", "KRW", "BRL"]))
    money = st.decimals(min_value=0, max_value=10**9, places=currency_places(currency))
    start = draw(DAYS)
    rows = draw(st.lists(st.tuples(money, COUNTS, COUNTS, COUNTS), min_size=1, max_size=400))
    daily = [Point(date=start + timedelta(days=i), spend=s, impressions=m, clicks=c, streams=n)
             for i, (s, m, c, n) in enumerate(rows)]
    end = daily[-1].date
    return CampaignAnalytics(
        campaign_id=uuid.uuid4(), campaign_name=draw(st.text()), currency=currency,
        period=Period(start=start, end=end), granularity=draw(st.sampled_from(["day", "week", "month"])),
        timezones=Timezones(ads=draw(st.text(max_size=40)), streams=draw(st.text(max_size=40))),
        summary=Summary(
            total_spend=sum((p.spend for p in daily), Decimal(0)), total_impressions=draw(COUNTS),
            total_clicks=draw(COUNTS), total_streams=draw(COUNTS), avg_ctr=draw(FLOATS), avg_cpc=draw(RATIOS),
            avg_cpm=draw(RATIOS), cost_per_stream=draw(RATIOS), cost_per_incremental_stream=draw(RATIOS),
            roi=draw(FLOATS),
        ),
        attribution=Attribution(
            campaign_start=start, campaign_end=end, campaign_days=len(daily),
            elapsed_days=draw(st.floats(min_value=0, max_value=400)), streams_during=draw(COUNTS),
            baseline=Baseline(start=start - timedelta(days=28), end=start - timedelta(days=1), days=28,
                              observed_days=draw(st.integers(0, 28)), streams=draw(COUNTS),
                              daily_mean=draw(FLOATS), daily_stddev=draw(FLOATS)),
            expected_streams=draw(FLOATS), incremental_streams=draw(st.none() | st.integers(-10**12, 10**12)),
            confidence=draw(st.sampled_from(["high", "low", "none"])), reasons=draw(st.lists(st.text(), max_size=3)),
            listeners=ListenerMatches(listeners_opted_in=draw(COUNTS), listeners_matched=draw(COUNTS),
                                      plays=draw(COUNTS)),
            stream_value=draw(RATIOS),
        ),
        daily=daily,
        generated_at=draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                                       timezones=st.none() | st.just(UTC))),
    )


@settings(max_examples=100)  # the default, said out loud: a PDF example costs up to 50 ms
@given(reports())
def test_any_report_renders_in_every_format(report: CampaignAnalytics) -> None:
    for fmt in ("xlsx", "pdf"):
        assert render(report, fmt)
    header, *rows = csv.reader(io.StringIO(render(report, "csv").decode("utf-8"), newline=""), strict=True)
    assert header == ["date", f"spend_{report.currency}", "impressions", "clicks", "streams"]
    assert [(date.fromisoformat(r[0]), Decimal(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows] == [
        (p.date, p.spend, p.impressions, p.clicks, p.streams) for p in report.daily]
