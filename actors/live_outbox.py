"""What one live connection is sent: the frames of stream events and counts snapshots, and the ``Outbox``
that queues them for the connection's writer (``http_api.live_ws``), filled by the LiveHub.

An Outbox has three lanes: replies (and alerts), small and sent first; stream events, bounded by
``backlog`` (overflowing marks the connection too slow: it is closed and resumes from its seq, so nothing
stale is sent); counts snapshots, conflated to the newest per track. Appending never waits, so a slow
client delays nobody else.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec
import trio

from engine.store import stream_events as store

__all__ = ["Outbox", "counts_frame", "encode", "stream_frame"]


class _StreamData(msgspec.Struct, frozen=True, rename="camel"):
    track_id: uuid.UUID
    platform: str
    country: str
    timestamp: datetime


class _StreamFrame(msgspec.Struct, frozen=True):
    seq: int
    data: _StreamData
    event: str = "stream"


class _CountsData(msgspec.Struct, frozen=True, rename="camel"):
    track_id: uuid.UUID
    window: str
    streams: int
    countries: dict[str, int]


class _CountsFrame(msgspec.Struct, frozen=True):
    seq: int
    data: _CountsData
    event: str = "counts"


_encoder = msgspec.json.Encoder()


def encode(message: object) -> str:
    return _encoder.encode(message).decode()


def stream_frame(event: store.StoredEvent) -> str:
    data = _StreamData(track_id=event.track_id, platform=event.platform, country=event.country,
                       timestamp=event.occurred_at.astimezone(UTC))
    return _encoder.encode(_StreamFrame(seq=event.seq, data=data)).decode()


def counts_frame(counts: store.Counts) -> str:
    data = _CountsData(track_id=counts.track_id, window="1h", streams=counts.streams, countries=counts.countries)
    return _encoder.encode(_CountsFrame(seq=counts.seq, data=data)).decode()


class Outbox:
    """What waits to be sent on one connection; its writer calls ``take()`` in a loop."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.overflowed = False
        self.overflow = trio.Event()  # set once, when the backlog overflows
        self.closed: tuple[int, str] | None = None  # set by the hub: close with this code and reason
        self._replies: deque[str] = deque()
        self._events: deque[str] = deque()
        self._counts: dict[uuid.UUID, str] = {}
        self._doorbell = trio.Event()
        self._taken = trio.Event()

    def reply(self, frame: str) -> None:
        self._replies.append(frame)
        self._doorbell.set()

    def events(self, frames: Iterable[str]) -> None:
        self._events.extend(frames)
        if len(self._events) > self.backlog:
            self.overflowed = True
            self._events.clear()  # they will never be sent: the client resumes from its seq
            self.overflow.set()
        self._doorbell.set()

    def counts(self, track_id: uuid.UUID, frame: str) -> None:
        self._counts[track_id] = frame
        self._doorbell.set()

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._doorbell.set()

    async def take(self) -> list[str]:
        """Everything queued, replies first, then events, then counts; waits while there is nothing.
        Returns an empty list once the outbox overflowed or was closed (see ``overflowed``/``closed``)."""
        while not (self._replies or self._events or self._counts or self.overflowed or self.closed):
            await self._doorbell.wait()
            self._doorbell = trio.Event()
        if self.overflowed or self.closed:
            return []
        frames = [*self._replies, *self._events, *self._counts.values()]
        self._replies.clear()
        self._events.clear()
        self._counts.clear()
        self._taken.set()
        self._taken = trio.Event()
        return frames

    async def drained(self) -> None:
        """Wait until the writer has taken what is queued (a replay queues one page at a time)."""
        while self._replies and not (self.overflowed or self.closed):
            await self._taken.wait()
