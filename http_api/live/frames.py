"""What one live connection is sent: its own frames (replies, errors), and the ``FrameQueue`` that holds
them with the hub's (``engine.live``: stream events, counts snapshots) for the connection's writer
(``http_api.live.ws``).

A FrameQueue has three lanes: replies (and alerts), small and sent first; stream events, bounded by
``backlog`` (overflowing marks the connection too slow: it is closed and resumes from its seq, so nothing
stale is sent); counts snapshots, conflated to the newest per track. Appending never waits, so a slow
client delays nobody else. When the connection can write encoded frames without waiting (``write_now``,
``http_api.live.wire``) and no writer runs, the hub's ``publish`` writes them at once: no task switch per
connection; what the socket does not take goes to a writer, a task started only while frames wait (an idle
connection, the usual state of thousands, costs no task of its own for writing).
"""

from __future__ import annotations

import math
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
    """What waits to be sent on one connection. Its writer is a task that runs only while there is something
    to send: the queue starts it (``start_writer``, once the connection has set it) when a frame is queued
    and none runs, and it ends when ``take`` finds nothing; an idle connection holds no writer task."""

    # Thousands of connections each hold one: slots, plain lists (an empty deque takes 600 bytes), and no
    # trio.Event of its own (one waiter in ``drained`` at most, and only during a resume's replay).
    __slots__ = ("_counts", "_events", "_replies", "_rest", "_start_writer", "_taken", "backlog", "closed",
                 "overflowed", "stuck_grace", "write_now", "writer_scope", "writing")

    def __init__(self, backlog: int, stuck_grace: float = math.inf) -> None:
        self.backlog = backlog
        # Seconds a writer waiting on a full socket has once the backlog overflowed: a client that stopped
        # reading leaves it there, where it would never see the overflow.
        self.stuck_grace = stuck_grace
        self.overflowed = False
        self.closed: tuple[int, str] | None = None  # set at a graceful stop: close with this code and reason
        self._replies: list[str] = []
        self._events: list[str] = []
        self._counts: dict[uuid.UUID, str] = {}
        self._taken: trio.Event | None = None  # made by ``drained`` while it waits
        self._rest = b""  # bytes a write_now left unsent: the writer sends them before anything else
        self._start_writer: Callable[[], None] | None = None
        self.writing = False  # a writer task runs: started, and ``take`` has not yet found nothing
        self.writer_scope: trio.CancelScope | None = None  # around the writer's current write
        # Set by the connection when it can write encoded frames without waiting: returns the bytes left,
        # or None when it cannot write now (the frames are then queued).
        self.write_now: Callable[[list[str]], bytes | None] | None = None

    def start_writers_with(self, start_writer: Callable[[], None] | None) -> None:
        """From now on ``start_writer()`` starts the connection's writer, at once if frames wait already;
        ``None``: no writer is started any more (the connection is ending)."""
        self._start_writer = start_writer
        if self._pending():
            self._wake()

    def reply(self, frame: str) -> None:
        self._replies.append(frame)
        self._wake()

    def events(self, frames: Iterable[str]) -> None:
        self._events.extend(frames)
        if len(self._events) > self.backlog:
            self.overflowed = True
            self._events.clear()  # they will never be sent: the client resumes from its seq
            if (scope := self.writer_scope) is not None:
                scope.deadline = min(scope.deadline, trio.current_time() + self.stuck_grace)
        self._wake()

    def publish(self, frames: list[str], track_id: uuid.UUID, counts: str | None) -> None:
        """Stream events and the counts snapshot that rides with them: written at once when no writer runs
        and the connection can write without waiting, else queued."""
        if not self.writing and self.write_now is not None and frames and not self._pending():
            rest = self.write_now(frames if counts is None else [*frames, counts])
            if rest is not None:
                LIVE_FRAMES_SENT.inc(len(frames) + (counts is not None))
                if rest:
                    self._rest = rest
                    self._wake()
                return
        self.events(frames)
        if counts is not None:
            self.counts(track_id, counts)

    def counts(self, track_id: uuid.UUID, frame: str) -> None:
        self._counts[track_id] = frame
        self._wake()

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._wake()

    def take(self) -> list[str] | None:
        """Everything queued, replies first, then events, then counts; None when there is nothing (and no
        ``rest``): the writer then ends, and the next frame queued starts another. Empty once the queue
        overflowed or was closed (see ``overflowed``/``closed``)."""
        if not self._pending():
            self.writing, self.writer_scope = False, None
            return None
        if self.overflowed or self.closed:
            return []
        frames = [*self._replies, *self._events, *self._counts.values()]
        self._replies.clear()
        self._events.clear()
        self._counts.clear()
        if self._taken is not None:
            self._taken.set()
            self._taken = None
        return frames

    def rest(self) -> bytes:
        """The bytes a ``write_now`` left unsent, once: the writer sends them before what ``take`` returned."""
        rest, self._rest = self._rest, b""
        return rest

    def write_scope(self) -> trio.CancelScope:
        """The scope of the writer's next write (``writer_scope`` while it lasts): cut ``stuck_grace`` after
        the backlog overflowed, at once counted from now if it has."""
        deadline = trio.current_time() + self.stuck_grace if self.overflowed else math.inf
        self.writer_scope = trio.CancelScope(deadline=deadline)
        return self.writer_scope

    async def drained(self) -> None:
        """Wait until the writer has taken what is queued (a replay queues one page at a time)."""
        while self._replies and not (self.overflowed or self.closed):
            if self._taken is None:
                self._taken = trio.Event()
            await self._taken.wait()

    def _pending(self) -> bool:
        return bool(self._replies or self._events or self._counts or self._rest or self.overflowed or self.closed)

    def _wake(self) -> None:
        if not self.writing and self._start_writer is not None:
            self.writing = True
            self._start_writer()
