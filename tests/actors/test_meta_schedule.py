"""``actors.meta_schedule``: pure rules, tested with hypothesis over days and spans."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from actors.meta_schedule import days_back

_DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@given(today=_DAYS, gap=st.integers(0, 400), most=st.integers(1, 90))
def test_an_insights_call_reaches_back_to_the_previous_calls_day_within_the_window(
        today: date, gap: int, most: int) -> None:
    days = days_back(today - timedelta(days=gap), today, most)
    assert 1 <= days <= most
    assert days == max(1, gap) or days == most  # the previous call's day is covered, unless past the window


@given(today=_DAYS, most=st.integers(1, 90))
def test_the_first_call_asks_for_yesterday_and_today(today: date, most: int) -> None:
    assert days_back(None, today, most) == 1
