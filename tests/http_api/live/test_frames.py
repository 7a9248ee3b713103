"""A live connection's FrameQueue, without sockets: counts snapshots are conflated to the newest per track
and sent after the events they include, replies go first, and the writer waits for something to send.
"""

from __future__ import annotations

import uuid

import trio
import trio.testing

from http_api.live.frames import FrameQueue

TRACK = uuid.uuid4()


async def test_counts_are_conflated_and_sent_after_the_events_they_include() -> None:
    queue = FrameQueue(backlog=100)
    queue.counts(TRACK, '{"event":"counts","seq":1}')
    queue.events(['{"event":"stream","seq":2}'])
    queue.counts(TRACK, '{"event":"counts","seq":2}')
    queue.reply('{"event":"subscribed"}')
    assert await queue.take() == ['{"event":"subscribed"}', '{"event":"stream","seq":2}',
                                  '{"event":"counts","seq":2}']


async def test_take_waits_for_something_to_send_and_wakes_on_close() -> None:
    queue = FrameQueue(backlog=100)
    async with trio.open_nursery() as nursery:
        taken: list[list[str]] = []

        async def writer() -> None:
            taken.append(await queue.take())
            taken.append(await queue.take())

        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        assert taken == []
        queue.reply("a")
        await trio.testing.wait_all_tasks_blocked()
        queue.close(1001, "restarting")
    assert taken == [["a"], []] and queue.closed == (1001, "restarting")
