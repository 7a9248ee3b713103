"""Request budgets, counted in PostgreSQL so every API process shares them.

Two kinds: each organization's hourly budget by tier, and the brute-force limit
on the auth endpoints (attempts per window, per client IP and per email). Both
are fixed windows: one counter row per key and window, bumped atomically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.store.accounts import hit_counter
from engine.store.database import Database
from http_api.errors import ApiError

__all__ = ["HOUR", "TIER_LIMITS", "Verdict", "count_hit", "verdict", "window_start"]

# Requests per hour per organization (the API reference's tiers).
TIER_LIMITS = {"free": 100, "starter": 1_000, "professional": 10_000, "enterprise": 100_000}
HOUR = 3600


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


async def count_hit(db: Database, key: str, *, limit: int, window: int, now: float) -> Verdict:
    """Count one request against ``key`` in the current ``window``-second window."""
    count = await hit_counter(db, key, window_start(now, window))
    return verdict(count, limit=limit, window=window, now=now)
