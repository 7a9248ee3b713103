"""Days into periods: every day of the range lands in exactly one point, points are contiguous and
ordered, and nothing outside the range counts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.analytics.series import period_start, points

_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
_figures = st.tuples(*(st.integers(0, 10**9) for _ in range(4)))


@given(start=_days, length=st.integers(1, 400), granularity=st.sampled_from(["day", "week", "month"]),
       figures=st.dictionaries(st.integers(-30, 430), _figures, max_size=60), unit=st.sampled_from([1, 100]))
def test_every_day_of_the_range_is_in_exactly_one_point(start: date, length: int, granularity: str,
                                                        figures: dict[int, tuple[int, ...]], unit: int) -> None:
    end = start + timedelta(days=length - 1)
    days = {start + timedelta(days=offset): values for offset, values in figures.items()}
    series = points(start, end, granularity, days, unit)  # type: ignore[arg-type]
    inside = [values for day, values in days.items() if start <= day <= end]
    assert sum(p.streams for p in series) == sum(v[3] for v in inside)
    assert sum(p.clicks for p in series) == sum(v[2] for v in inside)
    assert sum(p.spend for p in series) == Decimal(sum(v[0] for v in inside)) / unit
    assert series[0].date == start
    assert [p.date for p in series] == sorted({max(period_start(start + timedelta(days=n), granularity), start)  # type: ignore[arg-type]
                                                for n in range(length)})


def test_weeks_begin_on_monday_and_months_on_the_first() -> None:
    assert period_start(date(2027, 1, 17), "week") == date(2027, 1, 11)  # a Sunday
    assert period_start(date(2027, 1, 11), "week") == date(2027, 1, 11)
    assert period_start(date(2027, 2, 28), "month") == date(2027, 2, 1)
    assert period_start(date(2027, 2, 28), "day") == date(2027, 2, 28)
