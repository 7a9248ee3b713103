"""The LiveHub's per-connection Outbox and its fan-out, without sockets: a full backlog marks only its own
connection too slow, counts snapshots are conflated to the newest per track, and each subscriber gets an
event at most once whatever it already received (a resume replay racing the live feed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import trio

from actors.live_hub import _Feed
from actors.live_outbox import Outbox
from engine.store.stream_events import StoredEvent, TrackHead

TRACK = uuid.uuid4()
AT = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _events(first: int, last: int) -> list[StoredEvent]:
    return [StoredEvent(track_id=TRACK, seq=seq, platform="spotify", country="SE", occurred_at=AT, received_at=AT)
            for seq in range(first, last + 1)]


def _seqs(frames: list[str]) -> list[int]:
    return [msgspec.json.decode(frame)["seq"] for frame in frames]


async def test_a_full_backlog_marks_only_that_connection_slow() -> None:
    feed = _Feed(TrackHead(track_id=TRACK, organization_id=uuid.uuid4(), epoch="e", last_seq=0))
    slow, fast = Outbox(backlog=10), Outbox(backlog=10)
    feed.subscribers.update({slow: 0, fast: 0})
    received: list[int] = []
    for start in range(1, 40, 4):
        feed.publish(_events(start, start + 3))
        received += _seqs(await fast.take())  # the fast connection's writer keeps up
    assert received == list(range(1, 41))
    assert slow.overflowed and slow.overflow.is_set() and not fast.overflowed
    assert await slow.take() == []  # nothing stale is sent to a connection that is being closed


async def test_each_subscriber_gets_only_events_after_what_it_already_has() -> None:
    feed = _Feed(TrackHead(track_id=TRACK, organization_id=uuid.uuid4(), epoch="e", last_seq=5))
    live, resumed = Outbox(backlog=100), Outbox(backlog=100)
    feed.subscribers.update({live: 5, resumed: 8})  # the resumed one's replay already reached seq 8
    feed.publish(_events(6, 10))
    assert _seqs(await live.take()) == [6, 7, 8, 9, 10]
    assert _seqs(await resumed.take()) == [9, 10]
    feed.publish(_events(9, 12))  # a page read again after a fallback poll
    assert _seqs(await live.take()) == [11, 12]
    assert feed.published == 12


async def test_counts_are_conflated_and_sent_after_the_events_they_include() -> None:
    outbox = Outbox(backlog=100)
    outbox.counts(TRACK, '{"event":"counts","seq":1}')
    outbox.events(['{"event":"stream","seq":2}'])
    outbox.counts(TRACK, '{"event":"counts","seq":2}')
    outbox.reply('{"event":"subscribed"}')
    assert await outbox.take() == ['{"event":"subscribed"}', '{"event":"stream","seq":2}',
                                   '{"event":"counts","seq":2}']


async def test_take_waits_for_something_to_send_and_wakes_on_close() -> None:
    outbox = Outbox(backlog=100)
    async with trio.open_nursery() as nursery:
        taken: list[list[str]] = []

        async def writer() -> None:
            taken.append(await outbox.take())
            taken.append(await outbox.take())

        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        assert taken == []
        outbox.reply("a")
        await trio.testing.wait_all_tasks_blocked()
        outbox.close(1001, "restarting")
    assert taken == [["a"], []] and outbox.closed == (1001, "restarting")
