"""Rate-aware pacing and retry waits: the budget math between a provider's signals and an actor's sleeps.

It owns the set of per-domain governors a caller paces with (``Pacer``, over ``engine.pacing.Governor``,
whose docstring explains the model and the PROVIDERS.md C reference points) and the waits of retryable
errors (``RetryPolicy``, which tenacity drives). It does not sleep, retry, read a clock or hold a random
generator of its own, and it knows no provider: domains are opaque strings and each provider's numbers
(windows, block lengths) come in as parameters. Restart backoff is ``engine.backoff``'s, not ours.

How an actor uses it, per call (``domains`` are all the budgets the call spends, e.g. the app's and the
ad account's BUC)::

    rand = rng.random()                                  # one draw per call, kept while we wait
    while (at := pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:
        await trio.sleep_until(at)                       # asking again after waking: same answer, unless
    sent = now                                           # another task called meanwhile
    pacer.record_call(domains, sent)                     # no await between the last check and this
    try:
        page = await provider.fetch(...)                 # retried by tenacity with policy.tenacity_wait
    except RateLimitedError as exc:
        pacer.limited(exc, trio.current_time(), sent_at=sent)
        if (until := pacer.parked_until(domains, trio.current_time())) is not None:
            ...                                          # persist ``until``, stop polling, no sleep
    else:
        pacer.observe(page.signals, trio.current_time(), sent_at=sent)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.pacing import Governor
from engine.provider import RetryableError

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterable

    from engine.provider import RateLimitedError, UsageSignal

__all__ = ["Governor", "Pacer", "RetryPolicy", "RetryState", "RetryWait"]


class Pacer:
    """The governors of every rate domain a caller spends, created on first sight of a domain.

    ``window_for(domain)`` gives a new domain's accounting window in seconds; the other settings are
    ``Governor``'s and apply to every domain. Raises ValueError on a bad setting (at construction) or a
    bad window (when the domain is first seen).
    """

    def __init__(self, window_for: Callable[[str], float], *, target: float = 90.0,
                 park_after: float = 900.0, jitter: float = 0.1, min_interval: float = 0.0,
                 forget_after: float = 1800.0) -> None:
        self._window_for = window_for
        self._settings = (target, park_after, jitter, min_interval, forget_after)
        self._governors: dict[str, Governor] = {}
        self._new(1.0)  # validate the settings now rather than at the first call

    def governor(self, domain: str) -> Governor:
        """The governor of ``domain``, created with ``window_for(domain)`` if we have not seen it yet."""
        found = self._governors.get(domain)
        if found is None:
            found = self._governors[domain] = self._new(self._window_for(domain))
        return found

    def record_call(self, domains: Iterable[str], now: float) -> None:
        """A call spending every one of ``domains`` starts at ``now`` (a repeated domain counts once)."""
        for domain in dict.fromkeys(domains):
            self.governor(domain).record_call(now)

    def observe(self, signals: Iterable[UsageSignal], now: float, *, sent_at: float | None = None) -> None:
        """Give each signal of a response (or of an error) to its domain's governor."""
        for signal in signals:
            self.governor(signal.domain).observe(signal, now, sent_at=sent_at)

    def limited(self, error: RateLimitedError, now: float, *, sent_at: float | None = None) -> None:
        """Take a ``RateLimitedError``: the signals it carried, then the block of its domain."""
        self.observe(error.signals, now, sent_at=sent_at)
        self.governor(error.domain).limited(error.reset_after, now)

    def next_allowed(self, domains: Iterable[str], now: float, rand: float) -> float:
        """The earliest trio time (``>= now``) a call spending all of ``domains`` may start: the latest of
        their governors' answers (see ``Governor.next_allowed``); ``now`` for domains never seen."""
        return max([now, *(self._governors[d].next_allowed(now, rand) for d in domains if d in self._governors)])

    def parked_until(self, domains: Iterable[str], now: float) -> float | None:
        """The latest park end among ``domains`` (see ``Governor.parked_until``), or None if none is parked."""
        ends = [end for d in domains if d in self._governors
                if (end := self._governors[d].parked_until(now)) is not None]
        return max(ends, default=None)

    def _new(self, window: float) -> Governor:
        target, park_after, jitter, min_interval, forget_after = self._settings
        return Governor(window, target=target, park_after=park_after, jitter=jitter, min_interval=min_interval,
                        forget_after=forget_after)


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
