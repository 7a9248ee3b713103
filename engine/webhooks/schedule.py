"""The retry policy of webhook deliveries: how an attempt's result is classified, and what happens next
(done, retry after a delay, give up, disable the endpoint). Pure: the caller passes the random draw.

    2xx                              succeeded
    410                              the endpoint is disabled (the receiver said it is gone for good)
    429, 502, 503, 504, timeouts     throttled: retry no sooner than ``throttle_floor`` (60 s), honouring
                                     Retry-After clamped into [scheduled delay, 2 x scheduled delay]
    anything else (3xx included,     failed: retry after the scheduled delay
    since we never follow redirects)

The standard schedule is Svix's: after the first attempt 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about
27.6 h in all), each ±20 % jitter; after the 8th attempt the delivery has failed for good.
"""

from __future__ import annotations

import enum
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import msgspec

__all__ = ["FAST", "STANDARD", "Decision", "Outcome", "Schedule", "classify", "decide", "parse_retry_after"]

_THROTTLING = frozenset({429, 502, 503, 504})


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    THROTTLED = "throttled"
    GONE = "gone"


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """Delays in seconds after attempt 1, 2, …; ``len(delays) + 1`` attempts in all."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    throttle_floor: float = 60.0


STANDARD = Schedule(delays=(5, 300, 1800, 7200, 18000, 36000, 36000))
# For the sandbox and the tests: the same shape, in seconds.
FAST = Schedule(delays=(1, 2, 3, 4, 5, 6, 6), throttle_floor=2.0)


class Decision(msgspec.Struct, frozen=True):
    """What to do with a delivery after an attempt: ``retry`` carries the delay in seconds."""

    action: Literal["succeed", "retry", "fail", "disable"]
    delay: float = 0.0


def classify(status: int | None, *, timed_out: bool = False) -> Outcome:
    """The outcome of a response ``status``; ``None`` means no response (a connection error)."""
    if timed_out:
        return Outcome.THROTTLED
    if status is None:
        return Outcome.FAILED
    if 200 <= status < 300:
        return Outcome.SUCCEEDED
    if status == 410:
        return Outcome.GONE
    return Outcome.THROTTLED if status in _THROTTLING else Outcome.FAILED


def decide(schedule: Schedule, attempts: int, outcome: Outcome, *, retry_after: float | None = None,
           draw: float = 0.5) -> Decision:
    """The decision after attempt number ``attempts`` (1-based). ``draw`` in [0, 1) picks the jitter:
    0.5 is none, 0 is -jitter, 1 is +jitter."""
    if outcome is Outcome.SUCCEEDED:
        return Decision("succeed")
    if outcome is Outcome.GONE:
        return Decision("disable")
    if attempts > len(schedule.delays):
        return Decision("fail")
    delay = schedule.delays[attempts - 1] * (1 + schedule.jitter * (2 * draw - 1))
    if outcome is Outcome.THROTTLED:
        if retry_after is not None:
            delay = min(max(retry_after, delay), 2 * delay)
        delay = max(delay, schedule.throttle_floor)
    return Decision("retry", delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` when absent or
    unreadable. A date in the past is 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
