"""The API's request quotas, counted in PostgreSQL so every API process shares them.

Two kinds: each organization's hourly quota by tier (a fixed window, one counter row per organization and
hour), and the brute-force limit on the auth endpoints (``http_api.auth.attempts``), a sliding window over
per-minute counter rows (``sliding_verdict``). How fast we call providers is another matter
(``engine.pacing``).

The hourly quota is leased in blocks (``QuotaLedger``), so a plain read writes nothing: each API process
claims a block of ``block_size(limit)`` request numbers from the organization's counter row (one atomic
statement, ``claim_from_counter``) and hands them out from memory until the block is used up. The counter
holds what every process has claimed, and claims stop at the limit, so the 101st request of a free
organization's hour is refused whatever the number of processes (never over the limit). The price is
on the other side: numbers a process has claimed but not served are lost to the others, so an organization
may see its 429 up to ``block_size(limit) - 1`` requests early per other process (under 1 % of the limit
each; none on the free tier, whose block is one request). We chose leases over per-process counters
flushed on a timer because a timer lets every process serve past the limit until its next flush, and it
needs a background task, which the API does not run (docs/architecture.md).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import trio

from engine.store.accounts import claim_from_counter
from engine.store.database import Database
from http_api.errors import ApiError

__all__ = ["BUCKET", "HOUR", "TIER_LIMITS", "QuotaLedger", "Verdict", "block_size", "sliding_verdict", "verdict",
           "window_start"]

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


def block_size(limit: int) -> int:
    """How many request numbers a process claims at once: 1 % of the hourly limit, at least one. A process
    then writes at most about a hundred times an hour per organization, whatever its traffic."""
    return max(1, limit // 100)


@dataclass
class _Block:
    """Request numbers ``next`` .. ``next + left - 1`` of one window, this process's to hand out."""

    next: int
    left: int

    def take(self, limit: int) -> int:
        if not self.left:
            return limit + 1
        self.left -= 1
        self.next += 1
        return self.next - 1


class QuotaLedger:
    """This process's leases on the organizations' hourly quotas (see the module docstring)."""

    def __init__(self) -> None:
        self._blocks: dict[tuple[uuid.UUID, datetime, int], _Block] = {}
        self._spent: set[tuple[uuid.UUID, datetime, int]] = set()  # windows whose counter is at the limit
        # Claims are rare (one per block), so one at a time per process is enough; without it, tasks that
        # find the same block empty would each claim one, and hold more of the quota than they need.
        self._claiming = trio.Lock()

    async def count(self, db: Database, organization_id: uuid.UUID, limit: int, now: float) -> int:
        """This request's number in ``organization_id``'s window at ``now``; past ``limit`` it is refused."""
        key = (organization_id, window_start(now, HOUR), limit)  # a tier change starts a lease of its own
        block = self._blocks.get(key)
        if (block is None or not block.left) and key not in self._spent:
            async with self._claiming:
                block = self._blocks.get(key)
                if (block is None or not block.left) and key not in self._spent:
                    block = await self._claim(db, key)
        return limit + 1 if block is None else block.take(limit)

    async def _claim(self, db: Database, key: tuple[uuid.UUID, datetime, int]) -> _Block:
        organization_id, start, limit = key
        if any(old[1] != start for old in self._blocks):  # a new hour: the old leases are void
            self._blocks = {k: b for k, b in self._blocks.items() if k[1] == start}
            self._spent = {k for k in self._spent if k[1] == start}
        first, taken = await claim_from_counter(db, f"org:{organization_id}", start, want=block_size(limit),
                                                limit=limit)
        if not taken:
            self._spent.add(key)
        block = self._blocks[key] = _Block(first, taken)
        return block
