"""``engine.rules.figures.figure``: every field of ``model.FIELDS`` on the hand-built history of
``histories.py``, against values worked out by hand, and the reasons a figure is not trusted.

Rules: pure, no I/O. At ``NOW`` (2027-03-03 12:00 UTC) a 48 h window is the campaign's days 2 and 3: spend
20 + 30 USD, 3,000 + 5,000 impressions, 30 + 50 clicks, 200 + 180 streams, against a baseline of 100 a day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.rules.figures import AdDay, CampaignHistory, Figure, ListenerDay, figure
from engine.rules.model import FIELDS
from tests.engine.rules.histories import BASELINE, NOW, day, history

HISTORY = history()

# Each field over 48 h at NOW, worked out by hand.
EXPECTED: dict[str, Decimal | str] = {
    "spend": Decimal(50), "dailySpend": Decimal(25), "impressions": Decimal(8000), "clicks": Decimal(80),
    "ctr": Decimal(1), "cpc": Decimal("0.625"), "cpm": Decimal("6.25"),
    "budget": Decimal(100), "budgetSpent": Decimal(60), "budgetUsed": Decimal(60),
    "pacing": Decimal(235),  # 60 spent + 25 a day * 7 days left after today, of 100
    "streams": Decimal(380), "dailyStreams": Decimal(190), "baselineDailyStreams": Decimal(100),
    "incrementalStreams": Decimal(230),  # 380 - 100 * 1.5 days elapsed
    "streamsPerMille": Decimal("47.5"),
    "costPerStream": Decimal("0.131579"),  # 50 / 380
    "costPerIncrementalStream": Decimal("0.217391"),  # 50 / 230
    "listenersOptedIn": Decimal(6), "listenerPlays": Decimal(11),
    "status": "active", "name": "Spring single",
}


def _at(field: str, hours: int | None = 48, now: datetime = NOW, of: CampaignHistory = HISTORY) -> Figure:
    return figure(of, field, hours, now, BASELINE)


def test_the_hand_worked_values_cover_every_field() -> None:
    assert set(EXPECTED) == set(FIELDS)


@pytest.mark.parametrize("field", list(EXPECTED))
def test_each_field_over_48_hours(field: str) -> None:
    assert _at(field) == Figure(value=EXPECTED[field])


@pytest.mark.parametrize(("hours", "spend"), [(1, 30), (24, 30), (25, 50), (48, 50), (49, 60), (None, 60)])
def test_a_window_is_the_last_ceil_hours_over_24_days_with_today(hours: int | None, spend: int) -> None:
    assert _at("spend", hours) == Figure(value=Decimal(spend))


def test_a_window_reaching_back_before_the_start_is_not_trusted() -> None:
    assert _at("spend", 72) == Figure(value=Decimal(60))  # days 1 to 3: whole
    seen = _at("spend", 96)
    assert seen.value == Decimal(60)
    assert seen.untrusted is not None and "not full" in seen.untrusted
    assert _at("streams", 96).untrusted == seen.untrusted
    assert _at("spend", None).untrusted is None  # the campaign so far is always whole


@pytest.mark.parametrize("hours", [None, 24])
@pytest.mark.parametrize("field", ["spend", "streams", "pacing", "impressions", "incrementalStreams",
                                   "baselineDailyStreams", "listenerPlays"])
def test_before_the_campaign_starts_its_figures_are_not_trusted(field: str, hours: int | None) -> None:
    seen = _at(field, hours, now=datetime(2027, 2, 27, 12, tzinfo=UTC))
    assert seen.untrusted is not None and "not started" in seen.untrusted


@pytest.mark.parametrize(("changes", "why"), [
    ({"first_stream_day": day(-3)}, "observed days"),  # 4 observed baseline days, fewer than 7
    ({"stream_days": {**HISTORY.stream_days, **{day(-i): 300 * (i % 2) for i in range(14)}}}, "noisy"),
    ({"first_stream_day": None}, "no stream data"),
    ({"first_stream_day": day(3)}, "no stream data"),
    ({"track_id": None}, "no track"),
])
@pytest.mark.parametrize("field", ["incrementalStreams", "costPerIncrementalStream", "baselineDailyStreams"])
def test_a_thin_noisy_or_missing_baseline_makes_incremental_figures_untrusted(
        changes: dict[str, object], why: str, field: str) -> None:
    seen = _at(field, of=history(**changes))
    assert seen.untrusted is not None and why in seen.untrusted
    streams = _at("streams", of=history(**changes)).untrusted  # streams themselves are still counted...
    assert streams is None or "no track" in why  # ...when there is a track to count them of


@pytest.mark.parametrize("field", ["streams", "dailyStreams", "streamsPerMille", "costPerStream", "listenerPlays"])
def test_a_campaign_without_a_track_has_no_stream_figures_rather_than_zero(field: str) -> None:
    seen = _at(field, of=history(track_id=None))
    assert seen.value is None and seen.untrusted == "the campaign has no track, so it has no streams"
    assert _at("listenersOptedIn", of=history(track_id=None)).value is not None  # fans join through the link


@pytest.mark.parametrize(("field", "changes"), [
    ("ctr", {"ad_days": {}}), ("cpm", {"ad_days": {}}), ("streamsPerMille", {"ad_days": {}}),
    ("cpc", {"ad_days": {d: AdDay(spend_minor=500, impressions=10, clicks=0) for d in (day(2), day(3))}}),
    ("costPerStream", {"stream_days": {}, "first_stream_day": None}),
    ("costPerIncrementalStream", {"stream_days": {**HISTORY.stream_days, day(2): 50, day(3): 50}}),
    ("budgetUsed", {"budget": Decimal(0)}),
    ("pacing", {"budget": Decimal(0)}),
])
def test_a_ratio_over_nothing_has_no_value(field: str, changes: dict[str, object]) -> None:
    seen = _at(field, of=history(**changes))
    assert seen.value is None and seen.untrusted


def test_a_zero_decimal_currency_counts_spend_in_whole_units() -> None:
    assert _at("spend", of=history(currency="JPY")) == Figure(value=Decimal(5000))


@pytest.mark.parametrize(("timezone", "now", "ads_day"), [
    (None, datetime(2027, 3, 3, 20, tzinfo=UTC), 3),
    ("Asia/Tokyo", datetime(2027, 3, 3, 20, tzinfo=UTC), 4),  # 05:00 on the 4th in Tokyo
    ("America/Los_Angeles", datetime(2027, 3, 4, 5, tzinfo=UTC), 3),  # 21:00 on the 3rd in Los Angeles
])
def test_meta_days_are_the_ad_accounts_and_stream_days_utc(timezone: str | None, now: datetime, ads_day: int) -> None:
    of = history(ads_timezone=timezone)
    assert _at("spend", 24, now, of).value == Decimal(HISTORY.ad_days[day(ads_day)].spend_minor) / 100
    assert _at("streams", 24, now, of).value == Decimal(HISTORY.stream_days[now.date()])


def test_a_campaign_starting_late_in_the_utc_day_starts_a_day_later_in_tokyo() -> None:
    # 20:00 UTC on the 1st is the 2nd in Tokyo: on the 2nd a 48 h window is whole in UTC, not for Meta.
    of = history(ads_timezone="Asia/Tokyo", start_date=datetime(2027, 3, 1, 20, tzinfo=UTC))
    late = datetime(2027, 3, 2, 10, tzinfo=UTC)  # 19:00 on the 2nd in Tokyo
    assert _at("spend", 48, late, of).value == Decimal(20)
    assert "not full" in (_at("spend", 48, late, of).untrusted or "")
    assert "not full" in (_at("pacing", 48, late, of).untrusted or "")
    assert _at("streams", 48, late, of).untrusted is None
    assert "not full" in (_at("streamsPerMille", 48, late, of).untrusted or "")


def test_after_the_end_date_pacing_is_what_was_spent() -> None:
    ended = history(end_date=datetime(2027, 3, 2, 23, tzinfo=UTC))
    assert _at("pacing", 24, of=ended) == Figure(value=Decimal(60))  # budgetSpent counts every day to now


@pytest.mark.parametrize("now", [NOW, datetime(2027, 2, 20, tzinfo=UTC), datetime(2027, 3, 1, 0, 30, tzinfo=UTC)])
@pytest.mark.parametrize("hours", [None, 24, 48, 72])
@pytest.mark.parametrize("field", list(FIELDS))
def test_nothing_after_now_is_read(field: str, hours: int | None, now: datetime) -> None:
    today = now.date()
    known = history(ad_days={d: v for d, v in HISTORY.ad_days.items() if d <= today},
                    stream_days={d: v for d, v in HISTORY.stream_days.items() if d <= today},
                    listener_days={d: v for d, v in HISTORY.listener_days.items() if d <= today},
                    first_stream_day=HISTORY.first_stream_day if HISTORY.first_stream_day <= today else None)
    assert _at(field, hours, now) == _at(field, hours, now, known)


def test_listeners_count_by_the_windows_end_and_their_plays_in_it() -> None:
    of = history(listener_days={**HISTORY.listener_days, day(3): ListenerDay(opted_in=0, plays=0)})
    assert _at("listenersOptedIn", 24, of=of) == Figure(value=Decimal(5))
    assert _at("listenerPlays", 24, of=of) == Figure(value=Decimal(0))
    assert _at("listenerPlays", 24, now=NOW + timedelta(days=1), of=of) == Figure(value=Decimal(500))
