"""The LiveHub's fan-out to the connections' frame queues, without sockets: a full backlog marks only its
own connection too slow, and each subscriber gets an event at most once whatever it already received (a
resume replay racing the live feed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from actors.live_hub import _Feed
from engine.store.live_feed import StoredEvent, TrackHead
from http_api.live.frames import FrameQueue

TRACK = uuid.uuid4()
AT = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _events(first: int, last: int) -> list[StoredEvent]:
    return [StoredEvent(track_id=TRACK, seq=seq, platform="spotify", country="SE", occurred_at=AT, received_at=AT)
            for seq in range(first, last + 1)]


def _seqs(frames: list[str] | None) -> list[int]:
    assert frames is not None, "nothing queued"
    return [msgspec.json.decode(frame)["seq"] for frame in frames]


async def test_a_full_backlog_marks_only_that_connection_slow() -> None:
    feed = _Feed(TrackHead(track_id=TRACK, organization_id=uuid.uuid4(), epoch="e", last_seq=0))
    slow, fast = FrameQueue(backlog=10), FrameQueue(backlog=10)
    feed.subscribers.update({slow: 0, fast: 0})
    received: list[int] = []
    for start in range(1, 40, 4):
        feed.publish(_events(start, start + 3), None)
        received += _seqs(fast.take())  # the fast connection's writer keeps up
    assert received == list(range(1, 41))
    assert slow.overflowed and not fast.overflowed
    assert slow.take() == []  # nothing stale is sent to a connection that is being closed


async def test_each_subscriber_gets_only_events_after_what_it_already_has() -> None:
    feed = _Feed(TrackHead(track_id=TRACK, organization_id=uuid.uuid4(), epoch="e", last_seq=5))
    live, resumed = FrameQueue(backlog=100), FrameQueue(backlog=100)
    feed.subscribers.update({live: 5, resumed: 8})  # the resumed one's replay already reached seq 8
    feed.publish(_events(6, 10), None)
    assert _seqs(live.take()) == [6, 7, 8, 9, 10]
    assert _seqs(resumed.take()) == [9, 10]
    feed.publish(_events(9, 12), None)  # a page read again after a fallback poll
    assert _seqs(live.take()) == [11, 12]
    assert feed.published == 12
