"""The chart arithmetic (pure): y ticks, tick labels, and which x positions get a date label."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from engine.exports.charts import MAX_X_LABELS, compact, label_indices, ticks


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False), st.booleans())
def test_ticks_start_at_zero_and_cover_the_top(top: float, integer: bool) -> None:
    marks = ticks(top, integer=integer)
    assert marks[0] == 0
    assert marks[-1] >= top * (1 - 1e-9)
    assert 2 <= len(marks) <= 5
    assert all(b > a for a, b in itertools.pairwise(marks))
    if integer:
        assert all(m == math.floor(m) for m in marks)


def test_ticks_of_nothing_are_zero_to_one() -> None:
    assert ticks(0, integer=False) == [0, 0.25, 0.5, 0.75, 1.0]
    assert ticks(0, integer=True) == [0, 1]
    assert ticks(math.nan, integer=False) == ticks(math.inf, integer=False) == ticks(0, integer=False)


def test_ticks_are_nice() -> None:
    assert ticks(44.2, integer=False) == [0, 20, 40, 60]
    assert ticks(3180, integer=True) == [0, 1000, 2000, 3000, 4000]
    assert ticks(3, integer=True) == [0, 1, 2, 3]


def test_compact_labels() -> None:
    assert [compact(v) for v in (0, 0.25, 0.5, 20, 750, 1000, 12500, 2.5e6, 3e9)] == [
        "0", "0.25", "0.5", "20", "750", "1k", "12.5k", "2.5M", "3B"]


@given(st.integers(min_value=0, max_value=2000))
def test_label_indices_keep_the_ends_and_stay_few(count: int) -> None:
    chosen = label_indices(count)
    assert len(chosen) == min(count, MAX_X_LABELS)
    assert chosen == sorted(set(chosen))
    if count:
        assert chosen[0] == 0 and chosen[-1] == count - 1
