"""What one live connection is sent: its own frames (replies, errors), and the ``FrameQueue`` that holds
them with the hub's (``engine.live``: stream events, counts snapshots) for the connection's writer
(``http_api.live.ws``).

A FrameQueue has three lanes: replies (and alerts), small and sent first; stream events, bounded by
``backlog`` (overflowing marks the connection too slow: it is closed and resumes from its seq, so nothing
stale is sent); counts snapshots, conflated to the newest per track. Appending never waits, so a slow
client delays nobody else. When the connection can write encoded frames without waiting (``write_now``,
``http_api.live.wire``) and its writer is idle, the hub's ``publish`` writes them at once: no task switch
per connection; what the socket does not take goes to the writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

import trio

from engine.live import encode
from engine.metrics import LIVE_FRAMES_SENT

__all__ = ["FrameQueue", "error_frame", "frame"]


def frame(event: str, data: object = None) -> str:
    return encode({"event": event} if data is None else {"event": event, "data": data})


def error_frame(code: str, message: str, track_id: uuid.UUID | None = None) -> str:
    data: dict[str, object] = {"code": code, "message": message}
    if track_id is not None:
        data["trackId"] = track_id
    return frame("error", data)


class FrameQueue:
    """What waits to be sent on one connection; its writer calls ``take()`` in a loop."""

    # Thousands of connections each hold one: slots and plain lists (an empty deque takes 600 bytes).
    __slots__ = ("_counts", "_doorbell", "_events", "_replies", "_rest", "_taken", "_waiting", "backlog", "closed",
                 "overflow", "overflowed", "write_now")

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.overflowed = False
        self.overflow = trio.Event()  # set once, when the backlog overflows
        self.closed: tuple[int, str] | None = None  # set at a graceful stop: close with this code and reason
        self._replies: list[str] = []
        self._events: list[str] = []
        self._counts: dict[uuid.UUID, str] = {}
        self._doorbell = trio.Event()
        self._taken = trio.Event()
        self._waiting = False  # the writer waits in take(): nothing of ours is being written
        self._rest = b""  # bytes a write_now left unsent: the writer sends them before anything else
        # Set by the connection when it can write encoded frames without waiting: returns the bytes left,
        # or None when it cannot write now (the frames are then queued).
        self.write_now: Callable[[list[str]], bytes | None] | None = None

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

    def publish(self, frames: list[str], track_id: uuid.UUID, counts: str | None) -> None:
        """Stream events and the counts snapshot that rides with them: written at once when the writer is
        idle and the connection can write without waiting, else queued."""
        idle = self._waiting and not (self._replies or self._events or self._counts or self._rest
                                      or self.overflowed or self.closed)
        if idle and self.write_now is not None and frames:
            rest = self.write_now(frames if counts is None else [*frames, counts])
            if rest is not None:
                LIVE_FRAMES_SENT.inc(len(frames) + (counts is not None))
                if rest:
                    self._rest = rest
                    self._doorbell.set()
                return
        self.events(frames)
        if counts is not None:
            self.counts(track_id, counts)

    def counts(self, track_id: uuid.UUID, frame: str) -> None:
        self._counts[track_id] = frame
        self._doorbell.set()

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._doorbell.set()

    async def take(self) -> list[str]:
        """Everything queued, replies first, then events, then counts; waits while there is nothing (and no
        ``rest``). Returns an empty list once the queue overflowed or was closed (see ``overflowed``/``closed``)."""
        while not (self._replies or self._events or self._counts or self._rest or self.overflowed or self.closed):
            self._waiting = True
            await self._doorbell.wait()
            self._waiting = False
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

    def rest(self) -> bytes:
        """The bytes a ``write_now`` left unsent, once: the writer sends them before what ``take`` returned."""
        rest, self._rest = self._rest, b""
        return rest

    async def drained(self) -> None:
        """Wait until the writer has taken what is queued (a replay queues one page at a time)."""
        while self._replies and not (self.overflowed or self.closed):
            await self._taken.wait()
