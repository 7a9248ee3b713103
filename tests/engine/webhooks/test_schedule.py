"""The retry policy: delays stay within ±20 % of the schedule, throttling waits at least the floor and
honours Retry-After within [delay, 2 x delay], 3xx fails, 410 disables, the schedule ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.webhooks.schedule import FAST, STANDARD, Decision, Outcome, classify, decide, parse_retry_after

draws = st.floats(0, 1, exclude_max=True)
attempts = st.integers(1, len(STANDARD.delays))


def test_the_standard_schedule_is_svixs() -> None:
    assert STANDARD.delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert sum(STANDARD.delays) / 3600 == pytest.approx(27.6, abs=0.05)
    assert max(FAST.delays) <= 10


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.SUCCEEDED), (204, Outcome.SUCCEEDED), (301, Outcome.FAILED), (302, Outcome.FAILED),
    (400, Outcome.FAILED), (410, Outcome.GONE), (429, Outcome.THROTTLED), (500, Outcome.FAILED),
    (502, Outcome.THROTTLED), (503, Outcome.THROTTLED), (504, Outcome.THROTTLED), (None, Outcome.FAILED),
])
def test_classify(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_a_timeout_is_throttling() -> None:
    assert classify(None, timed_out=True) is Outcome.THROTTLED


@given(attempts, draws)
def test_failure_delays_are_the_schedule_within_jitter(n: int, draw: float) -> None:
    decision = decide(STANDARD, n, Outcome.FAILED, draw=draw)
    base = STANDARD.delays[n - 1]
    assert decision.action == "retry" and 0.8 * base <= decision.delay <= 1.2 * base


@given(attempts, draws, st.none() | st.floats(0, 10**6))
def test_throttling_waits_at_least_the_floor_and_retry_after_is_clamped(
        n: int, draw: float, retry_after: float | None) -> None:
    decision = decide(STANDARD, n, Outcome.THROTTLED, retry_after=retry_after, draw=draw)
    scheduled = decide(STANDARD, n, Outcome.FAILED, draw=draw).delay
    assert decision.delay >= 60
    assert decision.delay <= max(60, 2 * scheduled)
    if retry_after is not None:
        assert decision.delay >= min(max(retry_after, scheduled), 2 * scheduled)


def test_retry_after_examples() -> None:
    assert decide(STANDARD, 3, Outcome.THROTTLED, retry_after=10).delay == 1800  # never sooner than scheduled
    assert decide(STANDARD, 3, Outcome.THROTTLED, retry_after=2500).delay == 2500
    assert decide(STANDARD, 3, Outcome.THROTTLED, retry_after=99999).delay == 3600  # at most twice
    assert decide(STANDARD, 1, Outcome.THROTTLED).delay == 60  # 5 s scheduled, 60 s floor


@given(draws, st.sampled_from([Outcome.FAILED, Outcome.THROTTLED]))
def test_the_schedule_ends_after_eight_attempts(draw: float, outcome: Outcome) -> None:
    assert decide(STANDARD, 8, outcome, draw=draw) == Decision("fail")


@given(st.integers(1, 20), draws)
def test_success_and_gone_end_at_once(n: int, draw: float) -> None:
    assert decide(STANDARD, n, Outcome.SUCCEEDED, draw=draw) == Decision("succeed")
    assert decide(STANDARD, n, Outcome.GONE, draw=draw) == Decision("disable")


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sun, 22 Nov 2026 12:05:00 GMT", now) == 300
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now + timedelta(0)) is None
