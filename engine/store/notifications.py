"""LISTEN/NOTIFY delivery into trio: the ``Notification`` message and the ``Subscription`` it arrives on.

It owns the hop from asyncpg's listener callbacks (in the asyncio thread) to a bounded trio channel; opening
and closing the dedicated connection is ``Database.listen``'s job.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import msgspec
import trio

from engine.store.errors import StoreUnavailable

__all__ = ["Notification", "Subscription"]

logger = logging.getLogger(__name__)


class Notification(msgspec.Struct, frozen=True):
    """One NOTIFY as received: the channel and its payload (an empty string when none was given)."""

    channel: str
    payload: str


class Subscription(trio.abc.ReceiveChannel[Notification]):
    """The receive side of one LISTEN: iterate it (``async for n in sub``) or call ``receive()``.

    NOTIFY is a wake-up, not a queue: PostgreSQL does not keep notifications for a listener that is not
    connected, so a reader must re-read the state it cares about after every wake-up (and after reconnecting)
    anyway. That is why, when the buffer is full, we drop the newest notification instead of blocking the
    asyncio thread (which would stall every query of the process); ``dropped`` counts them.

    Error handling: once the buffered notifications are consumed, ``receive()`` raises ``StoreUnavailable`` if
    the dedicated connection was lost, and ``trio.ClosedResourceError`` after ``Database.listen`` exited.
    """

    def __init__(self, channel: str, buffer: int) -> None:
        self.channel = channel
        self.dropped = 0
        self._send, self._receive = trio.open_memory_channel[Notification](buffer)
        self._lost = False
        self._closing = False

    async def receive(self) -> Notification:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            if self._lost:
                raise StoreUnavailable(f"the LISTEN connection for {self.channel!r} was lost") from None
            raise

    async def aclose(self) -> None:
        self._closing = True
        self._send.close()
        await self._receive.aclose()

    # --- called from the asyncio thread: they only schedule work in trio -------------------------------

    def on_notify(self, token: trio.lowlevel.TrioToken) -> Callable[[object, int, str, str], None]:
        """An asyncpg listener callback that hands each notification to trio through ``token``."""

        def callback(_conn: object, _pid: int, channel: str, payload: str) -> None:
            _soon(token, self._deliver, Notification(channel, payload))

        return callback

    def on_terminate(self, token: trio.lowlevel.TrioToken) -> Callable[[object], None]:
        """An asyncpg termination callback: marks the subscription lost unless we closed it ourselves."""

        def callback(_conn: object) -> None:
            _soon(token, self._terminated)

        return callback

    # --- in the trio thread ------------------------------------------------------------------------------

    def _deliver(self, notification: Notification) -> None:
        try:
            self._send.send_nowait(notification)
        except trio.WouldBlock:
            self.dropped += 1
            if self.dropped == 1:  # once: a reader that lags will lag for a while
                logger.warning("LISTEN %r: buffer full, dropping notifications", self.channel)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the subscription is being closed; nobody will read this

    def _terminated(self) -> None:
        if not self._closing:
            self._lost = True
        self._send.close()


def _soon(token: trio.lowlevel.TrioToken, fn: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(trio.RunFinishedError):  # trio has exited: nobody is listening any more
        token.run_sync_soon(fn, *args)
