"""The API's request quotas, counted in PostgreSQL so every API process shares them.

Two kinds: each organization's hourly quota by tier (a fixed window: one counter
row per organization and hour, bumped atomically), and the brute-force limit on
the auth endpoints (``http_api.auth.attempts``), a sliding window over per-minute
counter rows (``sliding_verdict``). How fast we call providers is another matter
(``engine.pacing``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from http_api.errors import ApiError

__all__ = ["BUCKET", "HOUR", "TIER_LIMITS", "Verdict", "sliding_verdict", "verdict", "window_start"]

# Requests per hour per organization (the API reference's tiers).
TIER_LIMITS = {"free": 100, "starter": 1_000, "professional": 10_000, "enterprise": 100_000}
HOUR = 3600
BUCKET = 60  # a sliding window moves by whole minutes


@dataclass(frozen=True)
class Verdict:
    limit: int
    count: int
    reset: int  # Unix time the window ends
    now: float

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": str(self.reset),
        }

    def error(self, message: str) -> ApiError:
        err = ApiError(429, "RATE_LIMIT_EXCEEDED", message)
        err.headers.update(self.headers())
        err.headers["Retry-After"] = str(max(1, math.ceil(self.reset - self.now)))
        return err


def window_start(now: float, window: int) -> datetime:
    """The start of the fixed ``window``-second window that ``now`` falls in."""
    return datetime.fromtimestamp(int(now // window * window), UTC)


def verdict(count: int, *, limit: int, window: int, now: float) -> Verdict:
    """The verdict for the ``count``-th request of the window ``now`` falls in."""
    return Verdict(limit=limit, count=count, reset=int(now // window * window) + window, now=now)


def sliding_verdict(buckets: Sequence[tuple[float, int]], *, limit: int, window: int, now: float) -> Verdict:
    """The verdict for what counted ``buckets`` hold: (start, count) of the per-``BUCKET`` windows inside
    the sliding ``window``, oldest first. A bucket leaves the window ``window`` seconds after its start, so
    ``reset`` is when enough of the oldest have left for the count to drop below ``limit`` again."""
    count = sum(hits for _, hits in buckets)
    reset, left = now, count
    for start, hits in buckets:
        reset = start + window
        left -= hits
        if left < limit:
            break
    return Verdict(limit=limit, count=count, reset=math.ceil(reset), now=now)
