"""A live connection's FrameQueue, without sockets: counts snapshots are conflated to the newest per track
and sent after the events they include, replies go first, a writer is started only while frames wait, and a
write stuck on a client that reads nothing is cut once the backlog overflows.
"""

from __future__ import annotations

import uuid

import trio
import trio.lowlevel
import trio.testing

from http_api.live.frames import FrameQueue

TRACK = uuid.uuid4()


async def test_counts_are_conflated_and_sent_after_the_events_they_include() -> None:
    queue = FrameQueue(backlog=100)
    queue.counts(TRACK, '{"event":"counts","seq":1}')
    queue.events(['{"event":"stream","seq":2}'])
    queue.counts(TRACK, '{"event":"counts","seq":2}')
    queue.reply('{"event":"subscribed"}')
    assert queue.take() == ['{"event":"subscribed"}', '{"event":"stream","seq":2}', '{"event":"counts","seq":2}']


async def test_a_writer_runs_only_while_frames_wait() -> None:
    queue = FrameQueue(backlog=100)
    taken: list[list[str]] = []
    starts = 0

    async def writer() -> None:
        while (frames := queue.take()) is not None:
            taken.append(frames)
            if queue.closed:
                return
            await trio.lowlevel.checkpoint()  # a write: what is queued meanwhile is this writer's too

    def start() -> None:
        nonlocal starts
        starts += 1
        nursery.start_soon(writer)

    async with trio.open_nursery() as nursery:
        queue.reply("a")  # before the connection starts writers: it waits
        queue.start_writers_with(start)
        queue.reply("b")
        await trio.testing.wait_all_tasks_blocked()
        assert (taken, starts, queue.writing) == ([["a", "b"]], 1, False)
        queue.reply("c")
        queue.events(["1"])
        await trio.testing.wait_all_tasks_blocked()
        queue.close(1001, "restarting")
    assert taken == [["a", "b"], ["c", "1"], []] and starts == 3 and queue.closed == (1001, "restarting")


async def test_a_write_stuck_when_the_backlog_overflows_is_cut_after_the_grace(
        autojump_clock: trio.testing.MockClock) -> None:
    queue = FrameQueue(backlog=2, stuck_grace=5.0)
    cut: list[float] = []

    async def writer() -> None:
        while queue.take() is not None:
            with queue.write_scope() as scope:
                await trio.sleep_forever()  # a client that reads nothing: its socket stays full
            if scope.cancelled_caught:
                cut.append(trio.current_time())
                return

    async with trio.open_nursery() as nursery:
        queue.start_writers_with(lambda: nursery.start_soon(writer))
        queue.reply("a")
        await trio.sleep(60)
        assert cut == []  # a slow write alone is no reason to close
        queue.events(["1", "2", "3"])
    assert queue.overflowed and cut == [65.0]


async def test_no_writer_starts_once_the_connection_is_ending() -> None:
    queue = FrameQueue(backlog=100)
    starts: list[None] = []
    queue.start_writers_with(lambda: starts.append(None))
    queue.start_writers_with(None)  # its nursery is closing: a task started now would be refused
    queue.reply("a")
    queue.close(1001, "restarting")
    assert starts == [] and queue.take() == []
