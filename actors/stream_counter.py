"""The stream counter: the one way stream events (from the ingest API, opted-in listeners, the sandbox)
and imported stream reports become campaigns' ``streams``. It does not store events or reports
(``stream_events.ingest``, the imports do) nor write facts (the aggregator does).

It reads the daily figures, not the events: each (track, UTC day) whose rollup or report day changed
(``track_day_streams``: a report's figure wins over the events of its day) becomes, for every
campaign of that track and organization whose dates contain the day, a ``MetricSample`` with the day's
whole figure, observed when it changed. Samples are absolute, so sending one again is
harmless, and none is ever dropped: a full aggregator inbox makes us wait.

Where it resumes: the newest ``observed_at`` of the facts it wrote (or, with none, ``HISTORY`` ago), so
events ingested while the engine was down are counted at the next start.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import NoReturn

import trio

from engine.clock import utc_now
from engine.messages import MetricSample
from engine.store import facts
from engine.store import imports as imports_store
from engine.store import stream_events as events_store
from engine.store.database import Database
from engine.supervisor import ChildSpec

__all__ = ["OVERLAP", "SOURCE", "STREAM_COUNTER", "StreamCounter"]

STREAM_COUNTER = "stream-counter"  # its name in the supervision tree and in /v1/engine/status
SOURCE = "stream_events"  # the facts' source: one per (campaign, day), whichever way the events came in
# A rollup row's updated_at is read from the clock before its transaction commits, so a row can become
# visible after a newer one we have already read; re-reading this far back catches it (ingest
# transactions take milliseconds).
OVERLAP = timedelta(seconds=30)
PAGE = 1000

_DayKey = tuple[uuid.UUID, date]  # (track, day)


class StreamCounter:
    """Sends ``streams`` samples for the changed days of stream events and reports, on a wake-up (a
    NOTIFY on ``STREAM_EVENTS_CHANNEL`` or ``STREAM_REPORTS_CHANNEL``) and every ``poll_interval``
    seconds, at most once per ``min_gap`` seconds: a busy ingest notifies many times a second and changes
    each active track's day every time, so the gap bounds the samples to one per campaign and day per
    gap. Live counts do not wait for it (they are read
    from the events); campaign totals and goal alerts may lag by that much.

    ``samples`` is a send side of the aggregator's inbox: each ``run`` sends on its own clone and closes it;
    we never close ``samples`` itself (its owner does). ``wall`` is the wall clock for the first start's
    mark. ``samples_sent`` counts what we sent.

    ``run`` reports started once it knows where to resume from, then counts forever.

    Error handling: a lost LISTEN is logged and retried every ``poll_interval`` while we poll; every other
    store error (``StoreUnavailable`` included) propagates, and the supervisor restarts us. The mark moves
    only past pages sent whole, and a new process takes it from the facts written, so neither a crash nor
    a stop loses a day.
    """

    def __init__(self, db: Database, samples: trio.MemorySendChannel[MetricSample], *, poll_interval: float = 30.0,
                 min_gap: float = 5.0, page: int = PAGE, wall: Callable[[], datetime] = utc_now) -> None:
        self._db, self._samples, self._wall = db, samples, wall
        self._poll_interval, self._min_gap, self._page = poll_interval, min_gap, page
        self._mark: datetime | None = None  # the newest rollup change we have read
        # What we last sent per (track, day), to skip re-reads of the overlap that changed nothing.
        self._sent: dict[_DayKey, tuple[int, datetime]] = {}
        self._wake = trio.Event()
        self.samples_sent = 0

    def child_spec(self) -> ChildSpec:
        """How the supervisor runs us: restarted after any exit, stopped by cancellation (which closes our
        clone of ``samples``, so the aggregator, stopped after us, can drain)."""
        return ChildSpec(STREAM_COUNTER, self.run)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        with self._samples.clone() as outbox:
            async with trio.open_nursery() as nursery:
                # Each wakes us once subscribed, so nothing falls between.
                for channel in (events_store.STREAM_EVENTS_CHANNEL, imports_store.STREAM_REPORTS_CHANNEL):
                    nursery.start_soon(functools.partial(self._db.wake_on_notify, channel, self._woken,
                                                         retry=self._poll_interval))
                if self._mark is None:
                    self._mark = await facts.last_observed(self._db, SOURCE) or self._wall() - events_store.HISTORY
                task_status.started()
                while True:
                    started = trio.current_time()
                    self._wake = trio.Event()  # before reading: a NOTIFY during the read means read again
                    await self._count(outbox, self._mark)
                    with trio.move_on_after(self._poll_interval):
                        await self._wake.wait()
                    await trio.sleep_until(started + self._min_gap)

    async def _count(self, outbox: trio.MemorySendChannel[MetricSample], mark: datetime) -> None:
        """Send the samples of every day changed since ``mark - OVERLAP``, a page at a time, oldest first."""
        since, limit = mark - OVERLAP, self._page
        self._sent = {key: sent for key, sent in self._sent.items() if sent[1] >= since}
        while True:
            changed = await events_store.changed_days(self._db, since=since, limit=limit)
            await self._send(outbox, [day for day in changed if self._sent.get((day.track_id, day.day))
                                      != (day.streams, day.updated_at)])
            if not changed:
                return
            last = changed[-1].updated_at
            self._mark = max(mark, last)
            if len(changed) < limit:
                return
            # A full page that ends where it began is all one instant: read a bigger one, or we would loop.
            since, limit = (since, limit * 2) if last == since else (last, self._page)

    async def _send(self, outbox: trio.MemorySendChannel[MetricSample],
                    changed: Sequence[events_store.ChangedDay]) -> None:
        if not changed:
            return
        by_key = {(day.track_id, day.day): day for day in changed}
        for target in await events_store.campaign_days(self._db, changed):
            day = by_key[(target.track_id, target.day)]
            await outbox.send(MetricSample(  # waits while the aggregator is behind: backpressure, no drop
                organization_id=target.organization_id, campaign_id=target.campaign_id, day=target.day,
                metric="streams", value=day.streams, source=SOURCE, observed_at=day.updated_at))
            self.samples_sent += 1
        for key, day in by_key.items():
            self._sent[key] = (day.streams, day.updated_at)

    def _woken(self) -> None:
        self._wake.set()  # the current Event: ``run`` replaces it before each read
