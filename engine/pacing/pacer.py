"""The pacer: the budget math between a provider's signals and an actor's sleeps, over every rate domain.

It owns the set of per-domain governors a caller paces with (``Pacer``, over ``governor.Governor``, whose
docstring explains the model and the PROVIDERS.md C reference points); the waits of retryable errors are
``retry.RetryPolicy``'s. It does not sleep, retry, read a clock or hold a random generator of its own, and
it knows no provider: domains are opaque strings and each provider's numbers (windows, block lengths) come
in as parameters. Restart backoff is ``engine.backoff``'s, not ours.

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

from typing import TYPE_CHECKING

from engine.pacing.governor import Governor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.provider import RateLimitedError, UsageSignal

__all__ = ["Pacer"]


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
