"""Properties of engine.backoff: the pure restart pacing (no trio, no clock).

Rules: every test is a hypothesis property over the whole input range we accept, plus one
example per ValueError; expected values are computed from the documented formula, never copied.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.backoff import Backoff, Intensity

backoffs = st.builds(
    Backoff,
    base=st.floats(min_value=0, max_value=1e6),
    factor=st.floats(min_value=1, max_value=1e3),
    cap=st.floats(min_value=0, max_value=1e9),
)
attempts = st.integers(min_value=1, max_value=10**12)
rands = st.floats(min_value=0, max_value=1, exclude_max=True)


def ceiling(backoff: Backoff, attempt: int) -> float:
    """d = min(cap, base * factor**(attempt-1)), computed in log space so it cannot overflow."""
    if backoff.base == 0:
        return 0.0
    log_d = math.log(backoff.base) + (attempt - 1) * math.log(backoff.factor)
    return min(backoff.cap, math.exp(min(log_d, 700.0)))


@given(backoffs, attempts, rands)
def test_delay_is_within_equal_jitter_bounds(backoff: Backoff, attempt: int, rand: float) -> None:
    delay = backoff.delay(attempt, rand)
    d = ceiling(backoff, attempt)
    assert 0 <= delay <= backoff.cap
    # The tolerance only covers log-space versus pow rounding in our reference computation.
    assert d / 2 * (1 - 1e-9) <= delay <= d * (1 + 1e-9)


@given(backoffs, st.integers(min_value=1, max_value=10_000), rands)
def test_delay_never_shrinks_as_attempts_grow(backoff: Backoff, attempt: int, rand: float) -> None:
    assert backoff.delay(attempt, rand) <= backoff.delay(attempt + 1, rand)


@given(backoffs, rands)
def test_huge_attempts_reach_the_cap_without_overflow(backoff: Backoff, rand: float) -> None:
    delay = backoff.delay(10**30, rand)  # past the cap even for factor = 1 + 2**-52
    assert delay <= backoff.cap
    if backoff.base > 0 and backoff.factor > 1:
        assert delay >= backoff.cap / 2


def test_delay_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(0, 0.5)
    with pytest.raises(ValueError, match="rand"):
        Backoff().delay(1, 1.0)
    with pytest.raises(ValueError, match="factor"):
        Backoff(factor=0.5)
    with pytest.raises(ValueError, match="base"):
        Backoff(base=float("nan"))


@given(st.data(), st.integers(min_value=0, max_value=50), st.floats(0.001, 1e6), st.floats(0, 1e6))
def test_exactly_max_restarts_within_the_period_is_allowed(
    data: st.DataObject, max_restarts: int, period: float, now: float
) -> None:
    intensity = Intensity(max_restarts=max_restarts, period=period)
    ages = st.lists(st.floats(0, period / 2), min_size=max_restarts + 1, max_size=max_restarts + 1)
    restarts = [now - age for age in data.draw(ages)]
    assert not intensity.exceeded(restarts[:-1], now)
    assert intensity.exceeded(restarts, now)


@given(st.integers(min_value=0, max_value=50), st.floats(min_value=0.001, max_value=1e6))
def test_old_restarts_age_out(max_restarts: int, period: float) -> None:
    intensity = Intensity(max_restarts=max_restarts, period=period)
    old = [0.0] * (max_restarts + 1)
    assert intensity.exceeded(old, now=0.0)
    assert not intensity.exceeded(old, now=period)  # the window is (now - period, now]
    assert intensity.exceeded([*old, period], now=period) is (max_restarts == 0)


def test_intensity_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        Intensity(max_restarts=-1)
    with pytest.raises(ValueError, match="period"):
        Intensity(period=0)
