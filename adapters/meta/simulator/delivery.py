"""What a campaign spends on one local day: paced to the budgets in force, stopped while it is not ACTIVE.

Pure, over a campaign's two histories (its statuses, its budgets), both appended at the simulated moment
of each write, so a day that is over never changes: a pause or a new budget acts from that moment on.

- Delivery runs only while the campaign is ACTIVE (a pause stops it, ACTIVE resumes it).
- Its rate is the daily budget, or a lifetime budget spread over ``LIFETIME_DAYS`` (the simulator has no
  ``end_time`` to spread it over), times the day's pacing draw; a budget change mid-day changes the rate
  from that moment.
- A day never spends more than the daily budget in force: once it is reached, delivery stops until a
  higher budget. Meta may spend up to 25 % more on some days and make it up later; the simulator does not,
  so a test can hold a day to its budget.
- A campaign never spends more than its lifetime budget in all (counting what it spent before the
  lifetime budget was set): Meta stops delivery when it is reached.

A day whose budget did not change within it is computed exactly as before budgets could change, so the
figures of a campaign nobody wrote to stay what they were.
"""

from __future__ import annotations

import itertools
import math

__all__ = ["LIFETIME_DAYS", "BudgetHistory", "StatusHistory", "active_seconds", "day_spend", "rate"]

LIFETIME_DAYS = 30
StatusHistory = list[tuple[float, str]]  # (since, status), oldest first
BudgetHistory = list[tuple[float, int | None, int | None]]  # (since, daily, lifetime) in minor units


def rate(daily: int | None, lifetime: int | None) -> int:
    """Minor units a full ACTIVE day delivers at pacing 1."""
    return daily or (lifetime or 0) // LIFETIME_DAYS


def active_seconds(history: StatusHistory, start: float, end: float) -> float:
    total = 0.0
    for (since, status), (until, _) in itertools.pairwise([*history, (math.inf, "")]):
        if status == "ACTIVE":
            total += max(0.0, min(until, end) - max(since, start))
    return total


def _pieces(budgets: BudgetHistory, start: float, stop: float) -> BudgetHistory:
    """The budgets in force over ``[start, stop)``, each with the moment it starts to count."""
    found: BudgetHistory = []
    for (since, daily, lifetime), (until, _, _) in itertools.pairwise([*budgets, (math.inf, None, None)]):
        if max(since, start) < min(until, stop):
            found.append((max(since, start), daily, lifetime))
    return found


def _cap(daily: int | None, lifetime: int | None, spent_before: int) -> float:
    if daily is not None:
        return daily
    return lifetime - spent_before if lifetime is not None else 0


def day_spend(history: StatusHistory, budgets: BudgetHistory, bounds: tuple[float, float], now: float,
              pacing: float, spent_before: int) -> int:
    """Minor units spent in the local day ``bounds`` up to ``now``; ``spent_before`` is the campaign's
    spend on the days before it (only a lifetime budget needs it)."""
    start, end = bounds
    stop = min(end, now)
    pieces = _pieces(budgets, start, stop)
    if len(pieces) == 1:  # one budget all day: the figure it always had, held to its cap
        _, daily, lifetime = pieces[0]
        fraction = active_seconds(history, start, stop) / (end - start)
        if fraction <= 0.0:
            return 0
        spend = math.floor(rate(daily, lifetime) * pacing * fraction)
        return max(0, min(spend, math.floor(_cap(daily, lifetime, spent_before))))
    total = 0.0
    for (since, daily, lifetime), (until, _, _) in itertools.pairwise([*pieces, (stop, None, None)]):
        delivered = rate(daily, lifetime) * pacing * active_seconds(history, since, until) / (end - start)
        total = max(total, min(total + delivered, _cap(daily, lifetime, spent_before)))
    return math.floor(total)
