"""Graceful shutdown on SIGINT/SIGTERM: the first signal asks everything to
drain and starts the deadline; a second signal, or the deadline, cancels what is
left.

Resource handling: the deadline is put on the cancel scope the caller passes in
(the service's root nursery), so work still running at the deadline is
abandoned by ordinary trio cancellation, and ``finally`` blocks still run.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator

import trio

__all__ = ["Shutdown", "watch_signals"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    ``grace`` seconds away, and a second signal into immediate cancellation."""
    async for signum in signals:
        name = signal.Signals(signum).name
        if not shutdown.requested:
            log.info("received %s: draining, giving up after %.1f s", name, grace)
            shutdown.request(name)
            scope.deadline = min(scope.deadline, trio.current_time() + grace)
        else:
            log.warning("received %s again: stopping now", name)
            scope.cancel()
            return
