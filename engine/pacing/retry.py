"""Retry waits: how long an actor waits before retrying a ``RetryableError``, as tenacity's ``wait=`` and
``retry=``.

It owns ``RetryPolicy`` (exponential, jittered, never shorter than the provider's ``Retry-After``) and the
tenacity strategy built from it. It does not sleep, retry or hold a random generator of its own, and it
does not import tenacity: ``RetryState`` is the part of tenacity's call state we read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.provider import RetryableError

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["RetryPolicy", "RetryState", "RetryWait"]


class _Outcome(Protocol):
    def exception(self, timeout: float | None = None) -> BaseException | None: ...


class RetryState(Protocol):
    """The part of ``tenacity.RetryCallState`` we read, so that the core does not import tenacity."""

    @property
    def attempt_number(self) -> int: ...

    @property
    def outcome(self) -> _Outcome | None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Waits between retries of a ``RetryableError`` (a 5xx, a timeout, a transient code).

    Attempt ``n`` (1 = the first retry) waits ``d = min(cap, base * factor**(n-1))`` shortened by up to
    ``jitter`` of itself, or the error's ``retry_after`` lengthened by up to ``jitter``, whichever is
    longer: never less than the provider asked. A ``retry_after`` over ``park_after`` is not retried
    (``retries`` is False): the error reaches the actor, which parks instead of sleeping for hours.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.1
    park_after: float = 900.0

    def __post_init__(self) -> None:
        for name, value in (("base", self.base), ("cap", self.cap), ("park_after", self.park_after)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be finite and >= 1, got {self.factor!r}")
        if not (math.isfinite(self.jitter) and 0 <= self.jitter < 1):
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")

    def wait(self, error: BaseException | None, attempt: int, rand: float) -> float:
        """Seconds to wait before retry number ``attempt`` after ``error``; ``rand`` is a draw from [0, 1).

        Raises ValueError if ``attempt < 1`` or ``rand`` is outside ``[0, 1)``.
        """
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1, got {attempt!r}")
        if not 0.0 <= rand < 1.0:
            raise ValueError(f"rand must be in [0, 1), got {rand!r}")
        delay = self._ceiling(attempt) * (1 - self.jitter + self.jitter * rand)
        retry_after = _retry_after(error)
        if retry_after is not None:
            delay = max(delay, retry_after * (1 + self.jitter * rand))
        return delay

    def retries(self, error: BaseException | None) -> bool:
        """True for a ``RetryableError`` whose ``retry_after`` (if any) is at most ``park_after``."""
        retry_after = _retry_after(error)
        return isinstance(error, RetryableError) and (retry_after is None or retry_after <= self.park_after)

    def tenacity_retry(self, state: RetryState) -> bool:
        """tenacity's ``retry=``: retry what ``retries`` accepts."""
        return state.outcome is not None and self.retries(state.outcome.exception())

    def tenacity_wait(self, rng: random.Random, *, pacing: Callable[[], float] | None = None) -> RetryWait:
        """tenacity's ``wait=``: ``wait`` with draws from ``rng``, and at least ``pacing()`` seconds if given
        (e.g. what the ``Pacer`` still asks for after the failed call's signals)."""
        return RetryWait(self, rng, pacing)

    def _ceiling(self, attempt: int) -> float:
        try:
            grown = self.factor ** (attempt - 1)
        except OverflowError:
            return self.cap
        return min(self.cap, self.base * grown)


class RetryWait:
    """A tenacity wait strategy (a callable on the retry state) built by ``RetryPolicy.tenacity_wait``."""

    def __init__(self, policy: RetryPolicy, rng: random.Random, pacing: Callable[[], float] | None) -> None:
        self._policy, self._rng, self._pacing = policy, rng, pacing

    def __call__(self, state: RetryState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = self._policy.wait(error, state.attempt_number, self._rng.random())
        if self._pacing is not None:
            delay = max(delay, self._pacing())
        return delay


def _retry_after(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, RetryableError) else None
