"""One Meta account actor's calls to Meta, paced and retried (``MetaCalls``), and what they leave for its
status: failures in a row, the last success, the last error.

A call waits until the shared ``Pacer`` allows its rate domains, then runs; a ``RetryableError`` is retried
after ``RetryPolicy.wait`` (exponential, jittered, growing with the account's failures in a row), and after
``park_after_failures`` failures in a row the account parks for ``park_for`` (``Parked``). A
``RateLimitedError`` blocks its domain in the ``Pacer``; a block longer than the Pacer's ``park_after``
parks the account until it ends. ``actors/meta_account.py`` says what the actor does with a park.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

import trio

from actors.meta_schedule import MetaSchedule
from actors.meta_writes import PacedCall
from engine.metrics import counted_call
from engine.pacing import Pacer, RetryPolicy
from engine.provider import ProviderError, RateLimitedError, RequestTooLargeError, Result, RetryableError
from engine.registry import format_error

__all__ = ["AccountState", "MetaCalls", "Parked", "Reporter"]

T = TypeVar("T")


class Parked(Exception):
    """Stop calling this account (or, from the accounts list, the whole token) until ``until``."""

    def __init__(self, until: float) -> None:
        super().__init__(until)
        self.until = until


@dataclass
class AccountState:
    """One ad account's polling state, kept by its actor across cycles."""

    next_sweep: float = float("-inf")
    polled_day: date | None = None  # the account's today at its last insights call
    parked_until: float | None = None
    failures: int = 0


class Reporter(Protocol):
    """The actor's status report (its registry detail), told when a call backs off."""

    def __call__(self, state: str, *, next_poll_at: float | None = None) -> None: ...


class MetaCalls:
    """The paced, retried calls of one actor, and their record: ``failures`` in a row (all accounts),
    ``last_success`` (on ``wall``), ``last_error``."""

    def __init__(self, pacer: Pacer, retry: RetryPolicy, schedule: MetaSchedule, rng: random.Random, *,
                 wall: Callable[[], datetime], report: Reporter) -> None:
        self._pacer, self._retry, self._schedule, self._rng = pacer, retry, schedule, rng
        self._wall, self._report = wall, report
        self.failures = 0
        self.last_success: datetime | None = None
        self.last_error: str | None = None

    async def call(self, state: AccountState, domains: tuple[str, ...], fn: Callable[[], Awaitable[Result[T]]],
                   *, retry: bool = True) -> Result[T]:
        """``fn()`` when the Pacer allows, retried on ``RetryableError``; raises ``Parked`` to give up for now.
        Without ``retry`` (a write, tried again next cycle) a ``RetryableError`` or ``RateLimitedError`` is
        recorded as usual, then raised."""
        while True:
            rand = self._rng.random()
            # A time to sleep until, not an event: we ask again after waking (engine.pacing).
            while (at := self._pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:
                if (until := self._pacer.parked_until(domains, now)) is not None:
                    raise Parked(until)
                await trio.sleep_until(at)
            self._pacer.record_call(domains, now)
            try:
                result = await counted_call(domains, fn)
            except RequestTooLargeError as exc:
                self._pacer.observe(exc.signals, trio.current_time(), sent_at=now)
                raise
            except RateLimitedError as exc:
                self._rate_limited(exc, state, domains, sent_at=now, park=retry)
                if not retry:
                    raise
            except RetryableError as exc:
                self._note_failure(exc, state, sent_at=now)
                if not retry:
                    raise
                await self._back_off(exc, state)
            else:
                self._pacer.observe(result.signals, trio.current_time(), sent_at=now)
                state.failures = 0
                self.failures = 0
                self.last_success = self._wall()
                return result

    def paced_once(self, state: AccountState, domains: tuple[str, ...]) -> PacedCall:
        """``call`` without retries, for the queued writes (tried again next cycle)."""
        async def once(fn: Callable[[], Awaitable[Result[T]]]) -> Result[T]:
            return await self.call(state, domains, fn, retry=False)

        return once

    def failed(self, exc: ProviderError) -> None:
        self.failures += 1
        self.last_error = format_error(exc)

    def _rate_limited(self, exc: RateLimitedError, state: AccountState, domains: tuple[str, ...], *,
                      sent_at: float, park: bool) -> None:
        now = trio.current_time()
        self._pacer.limited(exc, now, sent_at=sent_at)
        state.failures += 1
        self.failed(exc)
        if park and (until := self._pacer.parked_until((*domains, exc.domain), now)) is not None:
            raise Parked(until)

    def _note_failure(self, exc: RetryableError, state: AccountState, *, sent_at: float) -> None:
        self._pacer.observe(exc.signals, trio.current_time(), sent_at=sent_at)
        state.failures += 1
        self.failed(exc)

    async def _back_off(self, exc: RetryableError, state: AccountState) -> None:
        now = trio.current_time()
        if state.failures >= self._schedule.park_after_failures:
            raise Parked(now + self._schedule.park_for)
        if not self._retry.retries(exc):  # a Retry-After longer than the policy waits
            raise Parked(now + (exc.retry_after or self._schedule.park_for))
        delay = self._retry.wait(exc, state.failures, self._rng.random())
        self._report("backing_off", next_poll_at=now + delay)
        await trio.sleep(delay)
