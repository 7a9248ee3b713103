"""Simulated time: the world's ``now()`` in Unix seconds, and the two clocks that drive it.

``SimClock`` runs from trio's clock (so ``MockClock``/autojump drive it) times ``speed``; ``ManualClock``
moves only when a test calls ``advance``. Nothing else in the simulator reads a clock directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import trio

__all__ = ["Clock", "ManualClock", "SimClock", "parse_start"]


class Clock(Protocol):
    def now(self) -> float:
        """The simulated time, in Unix seconds."""
        ...


def parse_start(iso: str) -> float:
    """Unix seconds of an ISO 8601 timestamp that carries an offset; raises ValueError otherwise."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        raise ValueError(f"start needs a UTC offset: {iso!r}")
    return moment.timestamp()


class SimClock:
    """``start + (base() - base at first use) * speed``; ``base`` defaults to ``trio.current_time``.

    The origin is taken lazily on the first ``now()`` inside ``trio.run``; before that, ``now()`` is
    ``start``, so a simulator can be built (and its world generated) outside ``trio.run``.
    """

    def __init__(self, start: float, speed: float, base: Callable[[], float] = trio.current_time) -> None:
        self._start, self._speed, self._base = start, speed, base
        self._origin: float | None = None

    def now(self) -> float:
        try:
            current = self._base()
        except RuntimeError:  # outside trio.run (building the world up front): time has not started yet
            if self._origin is None:
                return self._start
            raise
        if self._origin is None:
            self._origin = current
        return self._start + (current - self._origin) * self._speed


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
