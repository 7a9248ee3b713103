"""Pacing for one rate domain: a provider's usage signals in, the earliest time of the next call out.

It owns the per-domain model (``Governor``). It never sleeps, retries, reads a clock or draws a random
number: ``now`` and ``rand`` come in and a trio time goes out. ``pacer.Pacer`` holds the set of
governors a caller uses, and ``retry.RetryPolicy`` the retry waits that tenacity drives.

The model. A domain has an allowance over an accounting ``window`` (a rolling hour for Meta's BUC and
app counters, 300 s for the ad-account score, 30 s for Spotify). Providers report *utilization*, the
share of the allowance in use in percent, never the allowance itself. We learn the cost of one call in
percent as ``reported / our calls in the window`` (an upper bound: calls from elsewhere only inflate it)
and we keep our own calls in at most ``buckets`` time buckets so we know when each leaves the window.
The utilization that our calls do not explain (another process, a restart) is kept as a *residual*
that leaves all at once, at the latest moment it can: after the window, or after the provider's
``regain_after`` when it gives one. Every estimate errs towards "more used, freed later". A domain
without headers (Spotify) learns only from refusals: a refusal within the window means 100 %.

From that model, at each call:

* below ``low`` (half the target by default) we only keep ``min_interval`` between calls, so a poller
  that needs a few pages now gets them now;
* from ``low`` up we spread the headroom: for each future moment at which part of the usage leaves the
  window, the calls before it may use at most the room it leaves, evenly spaced; the slowest of those
  rates wins, and never faster than the whole target once per window. Back-to-back polling settles at
  ``target`` percent per window, and a cold start that bursts to ``low`` climbs to ``target`` just as
  the burst leaves the window, so even the first window gets close to the target;
* when the next call does not fit under the target, we wait until enough usage has left the window;
* a hard block (a ``RateLimitedError``'s reset, a signal at 100 % or more with a regain time) is never
  shortened, and a block longer than ``park_after`` is reported by ``parked_until``: the caller
  persists that time and stops polling the domain instead of sleeping through hours of Retry-After.

Reference points (PROVIDERS.md C): Meltano sleeps 300 s above 75 %; Airbyte sleeps 2 min at 85 % and
10 min at 95 %, and starts no async job at 70 %. Those steps idle with headroom left, then burst again.
We pace continuously instead, up to 90 % by default. The margin absorbs whole-percent headers, the
bucket granularity and calls in flight: every response resets the estimate, so at most one call (plus
those in flight, which ``observe(sent_at=...)`` keeps counted) goes out on a stale one.

Jitter: every wait gets jitter from ``rand``. The spacing between calls moves by up to ``± jitter`` of
itself, so the mean rate is unchanged; waits for usage to leave the window and hard blocks only
lengthen, by up to ``jitter`` of their length. All of it is anchored on the last call, so asking again
with the same ``rand`` after sleeping returns the same time: wake, ask again, call when it says now.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.provider import UsageSignal

__all__ = ["Governor"]

# Exact times of our latest calls, only to tell the calls a response has counted from those still in
# flight (``observe(sent_at=...)``); more calls in flight than this on one domain would be a bug upstream.
_IN_FLIGHT = 256


@dataclass(slots=True)
class _Bucket:
    """Our calls between ``first`` and ``last`` (at most one bucket span apart)."""

    first: float
    last: float
    count: int


class Governor:
    """The pacing state of ONE rate domain (PROVIDERS.md A4, B3; see the module docstring for the model).

    ``window`` is the domain's accounting window in seconds, ``target`` the utilization (percent) we pace
    to, ``low`` the utilization below which only ``min_interval`` applies (default ``target / 2``),
    ``park_after`` the longest block we report as a wait rather than as ``parked_until``, ``jitter`` the
    relative jitter of every wait, ``buckets`` how finely we remember our calls, ``forget_after`` how long
    a cost estimate lives without a signal or a refusal to refresh it.

    Feed it ``record_call`` for every call at the moment it starts, ``observe`` for every usage signal of
    this domain (errors included), ``limited`` for a ``RateLimitedError`` of this domain; ask
    ``next_allowed``. Times are trio-clock seconds and must not go backwards.

    Raises ValueError on a setting, time or figure that is not finite or out of range.
    """

    def __init__(self, window: float, *, target: float = 90.0, low: float | None = None,
                 park_after: float = 900.0, jitter: float = 0.1, min_interval: float = 0.0,
                 buckets: int = 120, forget_after: float = 1800.0) -> None:
        _require(math.isfinite(window) and window > 0, "window must be finite and > 0", window)
        _require(math.isfinite(target) and 0 < target <= 100, "target must be in (0, 100]", target)
        low = target / 2 if low is None else low
        _require(math.isfinite(low) and 0 <= low <= target, "low must be in [0, target]", low)
        _require(not math.isnan(park_after) and park_after >= 0, "park_after must be >= 0", park_after)
        _require(math.isfinite(jitter) and 0 <= jitter < 1, "jitter must be in [0, 1)", jitter)
        _require(math.isfinite(min_interval) and min_interval >= 0, "min_interval must be >= 0", min_interval)
        _require(buckets >= 1, "buckets must be >= 1", buckets)
        _require(not math.isnan(forget_after) and forget_after > 0, "forget_after must be > 0", forget_after)
        self.window, self.target, self.low = window, target, low
        self.park_after, self.jitter, self.min_interval = park_after, jitter, min_interval
        self.forget_after = forget_after
        self._span = window / buckets
        self._buckets: deque[_Bucket] = deque()
        self._counted = 0  # the sum of the buckets' counts
        self._recent: deque[float] = deque(maxlen=_IN_FLIGHT)
        self._last_call: float | None = None
        self._cost: float | None = None  # percent per call; None until a signal meets our own calls
        self._learned_at = -math.inf
        self._residual = 0.0
        self._residual_until = -math.inf
        # (since, until) of each block that another neither outlasts nor out-waits: a wait after a block is
        # jittered by its length, so a later but shorter block must not shorten the wait a longer one set.
        self._blocks: list[tuple[float, float]] = []
        # The plan depends only on the model and the last call, not on ``now``: a poller asks again after
        # every wake, and a Pacer asks every domain of every call, so we keep it until the model changes.
        self._changes = 0
        self._planned: tuple[int, float, tuple[float, float]] | None = None  # (changes, anchor, plan)

    # ---- inputs ------------------------------------------------------------------------------------

    def record_call(self, now: float) -> None:
        """We start a call in this domain at ``now`` (record it before the request, right after pacing)."""
        _require_time(now)
        if now - self._learned_at > self.forget_after:
            # Without headers (Spotify) the cost comes only from refusals, and one right after a restart
            # (the previous process's calls still counted) makes it far too high: we would crawl for ever.
            # Forgetting it costs such a domain one refusal per ``forget_after``; headers refresh it sooner.
            self._cost = None
        while self._buckets and self._buckets[0].last + self.window <= now:
            self._counted -= self._buckets.popleft().count
        tail = self._buckets[-1] if self._buckets else None
        if tail is not None and tail.last <= now < tail.first + self._span:
            tail.last, tail.count = now, tail.count + 1
        else:
            self._buckets.append(_Bucket(now, now, 1))
        self._counted += 1
        self._changes += 1
        self._recent.append(now)
        self._last_call = now if self._last_call is None else max(self._last_call, now)

    def observe(self, signal: UsageSignal, now: float, *, sent_at: float | None = None) -> None:
        """Take the provider's ``signal`` for this domain, received at ``now``.

        ``sent_at`` is when the call that carried it started: our calls recorded after it are still in
        flight and not in the figure. Without it we assume the figure counts every call recorded so far.
        A utilization of 100 or more with a ``regain_after`` blocks the domain until ``now + regain_after``;
        below that, ``regain_after`` only bounds when the reported usage is back.
        """
        _require_time(now)
        utilization, regain = signal.utilization, signal.regain_after
        _require(math.isfinite(utilization), "utilization must be finite", utilization)
        _require(regain is None or not math.isnan(regain), "regain_after must not be NaN", regain)
        horizon = self.window
        if regain is not None and regain > 0:
            horizon = min(horizon, regain)
            if utilization >= 100:
                self._block_for(now, regain)
        self._learn(max(0.0, utilization), now, sent_at, horizon)

    def limited(self, reset_after: float, now: float) -> None:
        """The provider refused a call of this domain: nothing until ``now + reset_after``.

        Meta counts calls made while blocked and extends the block, so this is a hard floor. A block no
        longer than the window is the rate limit itself: we also learn that usage stood at 100 % (the
        only figure Spotify ever gives). A longer one (a daily quota) says nothing about the window.
        Restoring a persisted park after a restart is ``limited(parked_until - now, now)``.
        """
        _require_time(now)
        _require(not math.isnan(reset_after) and reset_after >= 0, "reset_after must be >= 0", reset_after)
        self._block_for(now, reset_after)
        if 0 < reset_after <= self.window:
            self._learn(100.0, now, None, reset_after)

    # ---- outputs -----------------------------------------------------------------------------------

    def next_allowed(self, now: float, rand: float) -> float:
        """The earliest trio time (``>= now``) at which the next call of this domain may start.

        ``rand`` is a draw from ``[0, 1)``; keep it while you wait for this call, so that asking again
        after waking returns the same time. The result is never before a block's end, never before the
        usage leaves room for one call under the target (when it can), and at most
        ``now + (1 + jitter) * max(window, min_interval)`` or, when blocked, the block's end plus
        ``jitter`` times the block's length.
        """
        _require_time(now)
        _require(0.0 <= rand < 1.0, "rand must be in [0, 1)", rand)
        anchor = self._last_call
        if anchor is None:
            spacing, floor = self._plan(now)
        elif self._planned is not None and self._planned[:2] == (self._changes, anchor):
            spacing, floor = self._planned[2]
        else:
            spacing, floor = self._plan(anchor)
            self._planned = (self._changes, anchor, (spacing, floor))
        best = now
        if anchor is not None:
            best = max(best, anchor + spacing * (1 + self.jitter * (2 * rand - 1)))
            floor_ref = anchor
        else:
            floor_ref = now
        best = max(best, floor + self.jitter * rand * min(max(0.0, floor - floor_ref), self.window))
        for at, until in self._blocks:  # kept after they end, so that asking again gives the same answer
            best = max(best, until + self.jitter * rand * (until - at))
        return best

    def parked_until(self, now: float) -> float | None:
        """The end of the current block if it lies more than ``park_after`` seconds past ``now``, else None."""
        until = max((until for _, until in self._blocks), default=None)
        if until is not None and until - now > self.park_after:
            return until
        return None

    def usage(self, now: float) -> float:
        """Our estimate of the domain's utilization at ``now``, in percent (0 when we know nothing)."""
        return sum(amount for at, amount in self._events(now))

    # ---- the model ---------------------------------------------------------------------------------

    def _block_for(self, now: float, length: float) -> None:
        self._changes += 1
        new = (now, now + length)
        if any(until >= new[1] and until - at >= length for at, until in self._blocks):
            return  # an earlier block ends no sooner and is no shorter: it already sets every wait
        # Blocks that the new one outlasts and out-waits go; so do those whose longest wait has passed.
        self._blocks = [(at, until) for at, until in self._blocks
                        if (until > new[1] or until - at > length) and until + self.jitter * (until - at) > now]
        self._blocks.append(new)

    def _learn(self, utilization: float, now: float, sent_at: float | None, horizon: float) -> None:
        self._changes += 1
        pending = 0
        if sent_at is not None:  # calls are recorded in time order: the ones after ``sent_at`` are at the end
            for at in reversed(self._recent):
                if at <= sent_at:
                    break
                pending += 1
        # Buckets are in time order too, so those that started (or ended) before the window lead the deque.
        inside = self._counted - self._leading(lambda b: b.first <= now - self.window) - pending
        if inside >= 1:  # calls from elsewhere only make this larger: safe. 0 (a rounded-down header)
            self._cost = utilization / inside  # means free for now, like no estimate at all
            self._learned_at = now
        touching = self._counted - self._leading(lambda b: b.last <= now - self.window) - pending
        explained = 0.0 if self._cost is None else self._cost * max(0, touching)
        self._residual = max(0.0, utilization - explained)
        self._residual_until = now + horizon

    def _leading(self, older: Callable[[_Bucket], bool]) -> int:
        """Our calls in the buckets at the head of the deque for which ``older`` holds."""
        count = 0
        for bucket in self._buckets:
            if not older(bucket):
                break
            count += bucket.count
        return count

    def _events(self, after: float) -> list[tuple[float, float]]:
        """(time, percent) at which modelled usage leaves the window, after ``after``, in time order."""
        events: list[tuple[float, float]] = []
        if self._cost is not None:
            # A bucket's calls leave when its last one does: a call is never freed early.
            events = [(b.last + self.window, self._cost * b.count) for b in self._buckets
                      if b.last + self.window > after]
        if self._residual > 0 and self._residual_until > after:
            events.append((self._residual_until, self._residual))
            events.sort()
        return events

    def _plan(self, anchor: float) -> tuple[float, float]:
        """(spacing after ``anchor``, floor time) for the next call, from the model as it stands."""
        events = self._events(anchor)
        usage = sum(amount for _, amount in events)
        cost = self._cost
        if not cost:  # nothing to spread with: free under the target, else wait for the residual to leave
            return self.min_interval, self._residual_until if usage >= self.target else anchor
        room, floor, spread = self.target - usage, anchor, 0.0
        for at, amount in events:
            if room < cost:
                floor = at  # the next call does not fit before this much usage has left
            else:
                spread = max(spread, cost * (at - anchor) / room)
            room += amount
        if room >= cost:  # the steady rate: the whole target once per window
            spread = max(spread, cost * self.window / room)
        spacing = min(spread, self.window) if usage >= self.low else 0.0
        return max(self.min_interval, spacing), floor


def _require(ok: bool, message: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{message}, got {value!r}")


def _require_time(now: float) -> None:
    _require(math.isfinite(now), "time must be finite", now)
