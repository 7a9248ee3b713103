"""``WallClock``: the real clock at speed 1, the sandbox's simulated one above it. Pure; the real clock is a
hand-moved number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clock import WallClock

START = datetime(2026, 12, 6, 9, 30, tzinfo=UTC).timestamp()


class _Real:
    def __init__(self) -> None:
        self.value = START

    def __call__(self) -> float:
        return self.value


@given(st.floats(min_value=0.01, max_value=100_000), st.floats(min_value=0, max_value=10**6))
def test_simulated_time_runs_speed_times_faster_from_the_epoch(speed: float, elapsed: float) -> None:
    real = _Real()
    clock = WallClock(speed=speed, real=real)
    assert clock.now() == START
    real.value += elapsed
    assert clock.now() == pytest.approx(START + elapsed * speed)
    assert clock() == datetime.fromtimestamp(clock.now(), UTC)


def test_two_processes_given_the_same_epoch_read_the_same_time() -> None:
    real = _Real()
    first = WallClock(speed=600, real=real)
    real.value += 960  # 16 minutes later an API worker starts
    worker = WallClock(speed=600, epoch=first.epoch, real=real)
    assert worker() == first() == datetime(2026, 12, 6, 9, 30, tzinfo=UTC) + timedelta(days=960 * 600 / 86_400)


def test_speed_one_is_the_real_clock() -> None:
    real = _Real()
    clock = WallClock(real=real)
    real.value += 24
    assert clock() == datetime.fromtimestamp(START + 24, UTC)
    with pytest.raises(ValueError, match="speed"):
        WallClock(speed=0)
