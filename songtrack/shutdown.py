"""Graceful shutdown on SIGINT/SIGTERM: the first signal asks everything to
drain and starts the deadline; a second signal, or the deadline, cancels what is
left. The same signal again within ``REPEAT_WINDOW`` seconds is the same request:
a parent that forwards a signal to its process group (``make run``: make sends
SIGTERM to its child after the group got it) repeats it within milliseconds.

Resource handling: the deadline is put on the cancel scope the caller passes in
(the service's root nursery), so work still running at the deadline is
abandoned by ordinary trio cancellation, and ``finally`` blocks still run.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import trio

from engine.child_spec import Escalation

__all__ = ["Shutdown", "until_stopped", "watch_signals"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Long enough for a forwarded copy (make's arrives within a millisecond of the group's), short enough that a
# person who means "stop now" is heard at their next keypress.
REPEAT_WINDOW = 1.0


class Shutdown:
    """A one-shot request to stop, with the deadline the request set."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self.reason = ""

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


async def watch_signals(
    signals: AsyncIterator[int], shutdown: Shutdown, scope: trio.CancelScope, grace: float
) -> None:
    """Turn the first signal into ``shutdown.request`` plus a deadline on ``scope``
    ``grace`` seconds away, and a second signal into immediate cancellation, unless it
    is the first one repeated within ``REPEAT_WINDOW`` seconds (then it is logged and ignored)."""
    first: tuple[int, float] | None = None
    async for signum in signals:
        name = signal.Signals(signum).name
        now = trio.current_time()
        if not shutdown.requested:
            log.info("received %s: draining, giving up after %.1f s", name, grace)
            shutdown.request(name)
            scope.deadline = min(scope.deadline, now + grace)
            first = (signum, now)
        elif first is not None and first[0] == signum and now - first[1] < REPEAT_WINDOW:
            log.info("received %s again within %.0f s: the same request (a parent forwarded it), still draining",
                     name, REPEAT_WINDOW)
        else:
            log.warning("received %s again: stopping now", name)
            scope.cancel()
            return


async def until_stopped(grace: float, body: Callable[[Shutdown, trio.Nursery], Awaitable[None]]) -> Escalation | None:
    """Run ``body(shutdown, nursery)`` with SIGINT and SIGTERM watched (``watch_signals``, ``grace`` seconds to
    drain) and the nursery open for its background tasks, cancelled once ``body`` returns.

    Returns None after a graceful stop (``body`` returned, or the deadline cancelled it), or the
    ``Escalation`` of a supervision tree that gave up (logged by the caller, which exits 1).
    """
    shutdown, escalated = Shutdown(), list[Escalation]()
    with trio.open_signal_receiver(*SIGNALS) as signals:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_signals, signals, shutdown, nursery.cancel_scope, grace)
                await body(shutdown, nursery)
                nursery.cancel_scope.cancel()
        except* Escalation as group:
            escalated.extend(exc for exc in group.exceptions if isinstance(exc, Escalation))
    if not escalated:
        log.info("stopped (%s)", shutdown.reason or "done")
    return escalated[0] if escalated else None
