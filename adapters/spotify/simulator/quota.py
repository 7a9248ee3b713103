"""Spotify's two hidden limits, as pure state machines on the simulated clock (PROVIDERS.md B3).

``RollingWindow`` is the app-wide limit over a rolling 30 s window: over it, a short Retry-After.
``DailyQuota`` is the separate budget of calls per 24 h counted from the first call of the period:
over it, a Retry-After of up to 86,400 s and the ``QUOTA_EXCEEDED`` reason. Neither does I/O or reads
a clock; callers pass ``now`` (simulated Unix seconds). Retry-After values are whole seconds, rounded up.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["DAY_S", "DailyQuota", "RollingWindow"]

DAY_S = 86_400.0


class RollingWindow:
    """At most ``limit`` admitted calls in any ``window_s`` seconds.

    A call over the limit is refused until the oldest admitted call leaves the window. With
    ``penalty_s > 0`` every call made while refused pushes the end of the block further out, as
    users saw Retry-After grow when they kept calling (spotipy #1158).
    """

    def __init__(self, limit: int, window_s: float = 30.0, penalty_s: float = 0.0) -> None:
        self.limit, self.window_s, self.penalty_s = limit, window_s, penalty_s
        self._admitted: deque[float] = deque()
        self._blocked_until = -math.inf

    def admit(self, now: float) -> int | None:
        """``None`` if the call is admitted (and counted), else the Retry-After in seconds (≥ 1)."""
        while self._admitted and self._admitted[0] <= now - self.window_s:
            self._admitted.popleft()
        if now < self._blocked_until:
            self._blocked_until += self.penalty_s
            return _ceil(self._blocked_until - now)
        if len(self._admitted) >= self.limit:
            self._blocked_until = self._admitted[0] + self.window_s
            return _ceil(self._blocked_until - now)
        self._admitted.append(now)
        return None


class DailyQuota:
    """At most ``limit`` calls per 24 h period; a period starts with the first call after the last one ended."""

    def __init__(self, limit: int, period_s: float = DAY_S) -> None:
        self.limit, self.period_s = limit, period_s
        self._period_start: float | None = None
        self._used = 0

    def admit(self, now: float) -> int | None:
        """``None`` if the call is admitted (and counted), else the seconds until the budget resets."""
        if self._period_start is None or now >= self._period_start + self.period_s:
            self._period_start, self._used = now, 0
        if self._used >= self.limit:
            return _ceil(self._period_start + self.period_s - now)
        self._used += 1
        return None

    @property
    def used(self) -> int:
        return self._used


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds))
