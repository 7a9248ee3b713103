"""``WallClock``: the one wall clock of a running service, real or, in sandbox mode, simulated.

The composition root makes one and hands it to the simulators and to every part that reads domain time:
the days a poller asks for, rules and alerts, stream times, reports, analytics' default periods. In
sandbox mode it runs ``speed`` times faster than the real clock, from the real present, so the engine's
days are the simulators' days. It deliberately does not pace anything: sleeps, intervals and rate
windows stay on trio's clock, and times that a person or another program checks against its own clock
(session tokens, OAuth state, our rate limits, webhook signatures) stay on the real one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["WallClock", "utc_now"]


def utc_now() -> datetime:
    """The real clock as an aware UTC ``datetime``: the default wall clock of the actors (and what a
    ``WallClock`` at speed 1 reads)."""
    return datetime.now(UTC)


class WallClock:
    """``epoch + (real() - epoch) * speed`` in Unix seconds: the real clock at ``speed`` 1.

    ``epoch`` (real Unix seconds, default: now) is where simulated and real time meet, so two processes
    given the same ``epoch`` and ``speed`` (the API workers of ``songtrack run``) read the same time.
    Calling the clock gives an aware UTC ``datetime``; ``now()`` gives Unix seconds, which is what the
    simulators' clocks answer.
    """

    def __init__(self, *, speed: float = 1.0, epoch: float | None = None,
                 real: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be above 0, not {speed}")
        self.speed, self._real = speed, real
        self.epoch = real() if epoch is None else epoch

    def now(self) -> float:
        """Unix seconds on this clock."""
        return self.epoch + (self._real() - self.epoch) * self.speed

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)
