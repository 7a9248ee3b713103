"""Restart pacing for the supervisor: backoff delays with equal jitter, and the restart intensity.

Pure arithmetic on numbers handed in (attempts, random draws, clock readings): no trio, no clock,
no randomness of its own, so every property is checked with hypothesis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Backoff", "Intensity"]

_MAX_EXPONENT = 2**64


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: the n-th restart waits about ``base * factor**(n-1)`` seconds, at most ``cap``."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def __post_init__(self) -> None:
        # factor < 1 would make delays shrink; NaN/inf would poison every comparison below.
        if not (math.isfinite(self.base) and self.base >= 0):
            raise ValueError(f"base must be finite and >= 0, got {self.base!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be finite and >= 1, got {self.factor!r}")
        if not (math.isfinite(self.cap) and self.cap >= 0):
            raise ValueError(f"cap must be finite and >= 0, got {self.cap!r}")

    def delay(self, attempt: int, rand: float) -> float:
        """Return the seconds to wait before restart number ``attempt`` (1 = the first restart).

        With ``d = min(cap, base * factor**(attempt-1))`` the result is ``d/2 + rand*d/2`` ("equal
        jitter"): always within ``[d/2, d]``, so it never exceeds ``cap`` and, for a fixed ``rand``,
        never shrinks as ``attempt`` grows. ``rand`` is a draw from ``[0, 1)``, e.g. ``rng.random()``.

        Raises ValueError if ``attempt < 1`` or ``rand`` is outside ``[0, 1)``.
        """
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1, got {attempt!r}")
        if not 0.0 <= rand < 1.0:
            raise ValueError(f"rand must be in [0, 1), got {rand!r}")
        ceiling = self._ceiling(attempt)
        half = ceiling / 2
        # min(): for subnormal ceilings half can round up, and half + half would then exceed the ceiling.
        return min(ceiling, half + rand * half)

    def _ceiling(self, attempt: int) -> float:
        if self.base == 0:  # 0 * inf below would be NaN
            return 0.0
        # The min() keeps int-to-float conversion from overflowing; past 2**64 even the smallest factor
        # above 1 (1 + 2**-52) has overflowed, so the cap wins either way.
        exponent = min(attempt - 1, _MAX_EXPONENT)
        try:
            grown = self.factor**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, self.base * grown)


@dataclass(frozen=True)
class Intensity:
    """The restart intensity of OTP: at most ``max_restarts`` restarts within any ``period`` seconds."""

    max_restarts: int = 5
    period: float = 30.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"period must be finite and > 0, got {self.period!r}")

    def exceeded(self, restarts: Sequence[float], now: float) -> bool:
        """Return True when more than ``max_restarts`` of ``restarts`` fall within ``(now - period, now]``.

        ``restarts`` are clock readings (any order) on the same clock as ``now``.
        """
        since = now - self.period
        return sum(1 for at in restarts if since < at <= now) > self.max_restarts
