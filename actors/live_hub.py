"""The LiveHub: one per API process, it fans stream events out to this process's WebSocket connections.

The database is the truth (``engine.store.stream_events``): whichever process ingested an event, it
NOTIFYs ``stream_events`` with the track id, and every hub that has subscribers for that track reads the
events after the last seq it published. A missed notification costs latency, not events: a fallback
poll compares each watched track's head with what the hub has published.

Each connection has a queue of frames (``engine.live.FrameSink``); the hub only ever appends to queues and
never waits on a socket, so a slow client delays nobody else. The hub is the live API's ``LiveFeed``; the
connections and their closing are the live API's (``http_api.live``).

Connections may also ask for their organization's alerts: the aggregator NOTIFYs each alert it commits,
the outbox each other event for the organization (campaign, integration, report events), and the hub
pushes them. Alerts and events are not replayed on resume (webhooks and ``GET /v1/alerts`` are their
durable record).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

import msgspec
import trio

from config.sections import LiveSettings
from engine.live import FrameSink, Subscribed, counts_frame, encode, stream_frame
from engine.store import alerts as alert_store
from engine.store import live_feed as store
from engine.store import outbox as outbox_store
from engine.store.database import Database
from engine.store.errors import StoreUnavailable
from engine.store.stream_events import BUCKET, STREAM_EVENTS_CHANNEL

__all__ = ["COUNTS_WINDOW", "RESUME_LIMIT", "LiveHub"]

log = logging.getLogger(__name__)

# A client may resume from at most this many events back (the database keeps 8 days of them); further
# behind, it gets ``recovered: false`` and a fresh counts snapshot instead of a flood.
RESUME_LIMIT = 50_000
PAGE = 500  # events read and queued at a time
COUNTS_WINDOW = timedelta(hours=1)
COUNTS_EVERY = 1.0  # seconds: about one counts snapshot per track and second
# A snapshot rides with a track's events once this share of COUNTS_EVERY has passed since its last one: at one
# event a second, a strict second would make every other snapshot miss its event and go out on its own.
COUNTS_RIDE = 0.9


class _Feed:
    """One watched track: the last seq published here and each subscriber's last queued seq."""

    def __init__(self, head: store.TrackHead) -> None:
        self.head = head
        self.published = head.last_seq
        self.counted_at = -math.inf  # trio time of the last counts snapshot sent to every subscriber
        self.snapshot: tuple[float, int, str] | None = None  # the newest counts read: trio time, seq, frame
        self.subscribers: dict[FrameSink, int] = {}

    def publish(self, events: list[store.StoredEvent], counts: str | None) -> None:
        """Queue each event's frame, encoded once, to every subscriber that lacks it, and ``counts`` with
        them: the connection's writer sends what it finds queued in one write."""
        frames = [(event.seq, stream_frame(event)) for event in events]
        every = [frame for _, frame in frames]
        first, last = frames[0][0], frames[-1][0]
        for queue, delivered in self.subscribers.items():
            queue.publish(every if delivered < first else [frame for seq, frame in frames if seq > delivered],
                          self.head.track_id, counts)
            self.subscribers[queue] = max(delivered, last)
        self.published = max(self.published, last)


class LiveHub:
    """The ``LiveFeed`` of one API process: its connections call ``subscribe``/``unsubscribe``/``detach``.
    ``run`` is a supervised child of that process (``songtrack.api``); it ends only when cancelled."""

    def __init__(self, database: Callable[[], Database | None], settings: LiveSettings,
                 now: Callable[[], float]) -> None:
        self._database, self._settings, self._now = database, settings, now
        self._feeds: dict[uuid.UUID, _Feed] = {}
        self._dirty: set[uuid.UUID] = set()
        self._counts_due: set[uuid.UUID] = set()
        self._wake = trio.Event()
        self._counts_wake = trio.Event()
        self._alert_subscribers: dict[uuid.UUID, set[FrameSink]] = {}

    # ---- for connections -----------------------------------------------------------------------------

    def detach(self, queue: FrameSink) -> None:
        self.unsubscribe_alerts(queue)
        for track_id in [t for t, feed in self._feeds.items() if queue in feed.subscribers]:
            self.unsubscribe(queue, track_id)

    async def subscribe(self, queue: FrameSink, organization_id: uuid.UUID, track_id: uuid.UUID, *,
                        epoch: str | None, after: int | None) -> Subscribed | None:
        """Subscribe ``queue`` to the track (``None``: not a track of the organization). Queues the
        reply, then every event after ``after`` when the resume holds, then live events and counts."""
        db = self._db()
        head = await store.ensure_head(db, organization_id, track_id)
        if head is None:
            return None
        first: list[store.StoredEvent] = []
        recovered = (epoch == head.epoch and after is not None and 0 <= after <= head.last_seq
                     and head.last_seq - after <= RESUME_LIMIT)
        if recovered and after is not None and after < head.last_seq:
            first = await store.events_after(db, track_id, after, limit=PAGE)
            recovered = bool(first) and first[0].seq == after + 1  # older events may have been pruned
        delivered = after if recovered and after is not None else head.last_seq
        feed = self._feeds.get(track_id)
        if feed is None:
            feed = self._feeds[track_id] = _Feed(head)
        reply = Subscribed(track_id=track_id, epoch=head.epoch, seq=head.last_seq, recovered=recovered)
        queue.reply(encode({"event": "subscribed", "data": reply}))
        page = first
        while True:
            if page:
                for event in page:
                    queue.reply(stream_frame(event))
                delivered = page[-1].seq
            if len(page) < PAGE and delivered >= feed.published:
                # No await between this check and attaching: the pump cannot publish in between.
                feed.subscribers[queue] = delivered
                # Events stored while we set up were announced before anyone here watched the track:
                # read them now rather than at the next fallback poll.
                self._mark_dirty([track_id])
                break
            await queue.drained()
            if queue.overflowed or queue.closed:
                return reply
            page = await store.events_after(db, track_id, delivered, limit=PAGE)
        # This subscriber's own snapshot: a new subscriber does not make everyone else's come early.
        if (frame := await self._snapshot(feed, feed.published)) is not None:
            queue.counts(track_id, frame)
        return reply

    def unsubscribe(self, queue: FrameSink, track_id: uuid.UUID) -> bool:
        feed = self._feeds.get(track_id)
        if feed is None or feed.subscribers.pop(queue, None) is None:
            return False
        if not feed.subscribers:
            del self._feeds[track_id]
        return True

    def subscribe_alerts(self, queue: FrameSink, organization_id: uuid.UUID) -> bool:
        """Push the organization's alerts to ``queue`` as they fire; False if it already gets them."""
        queues = self._alert_subscribers.setdefault(organization_id, set())
        if queue in queues:
            return False
        queues.add(queue)
        return True

    def unsubscribe_alerts(self, queue: FrameSink) -> bool:
        for org, queues in list(self._alert_subscribers.items()):
            if queue in queues:
                queues.discard(queue)
                if not queues:
                    del self._alert_subscribers[org]
                return True
        return False

    def subscriptions(self, queue: FrameSink) -> int:
        return sum(1 for feed in self._feeds.values() if queue in feed.subscribers)

    def subscribed(self, queue: FrameSink, track_id: uuid.UUID) -> bool:
        feed = self._feeds.get(track_id)
        return feed is not None and queue in feed.subscribers

    # ---- the actor -------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while self._database() is None:  # noqa: ASYNC110 (the slot has no event; the single-process server starts before its database)
            await trio.sleep(0.1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, STREAM_EVENTS_CHANNEL, self._on_stream_events)
            nursery.start_soon(self._listen, alert_store.ALERTS_CHANNEL, self._on_alert)
            nursery.start_soon(self._poll)
            nursery.start_soon(self._pump)
            nursery.start_soon(self._count)

    def _db(self) -> Database:
        db = self._database()
        if db is None:
            raise StoreUnavailable("the database is still starting")
        return db

    async def _listen(self, channel: str, on_notify: Callable[[str], Awaitable[None]]) -> None:
        while True:
            try:
                async with self._db().listen(channel, buffer=1024) as subscription:
                    if channel == STREAM_EVENTS_CHANNEL:
                        self._mark_dirty(self._feeds)  # what was sent while we were not listening
                    async for notification in subscription:
                        await on_notify(notification.payload)
            except StoreUnavailable as exc:  # the Database logs an outage once; this is each retry
                log.debug("LISTEN %s lost (%s); retrying every %ss", channel, exc, self._settings.poll_interval)
            await trio.sleep(self._settings.poll_interval)

    async def _on_stream_events(self, payload: str) -> None:
        try:
            self._mark_dirty([uuid.UUID(payload)])
        except ValueError:
            log.warning("ignoring a %s notification %r", STREAM_EVENTS_CHANNEL, payload)

    async def _on_alert(self, payload: str) -> None:
        """Push a committed alert or webhook event (``evt_`` ids, ``outbox.enqueue_event``) to the
        connections of its organization that asked for alerts. Both are also webhooks (and alerts
        ``GET /v1/alerts``); a notification missed while LISTEN was down is not replayed."""
        org, _, item_id = payload.partition(":")
        try:
            queues = self._alert_subscribers.get(uuid.UUID(org))
            frame = await self._alert_frame(uuid.UUID(org), item_id) if queues else None
        except ValueError:
            log.warning("ignoring an %s notification %r", alert_store.ALERTS_CHANNEL, payload)
            return
        if frame is not None:
            for queue in list(queues or ()):
                queue.reply(frame)

    async def _alert_frame(self, org_id: uuid.UUID, item_id: str) -> str | None:
        if item_id.startswith("evt_"):
            envelope = await outbox_store.get_event(self._db(), org_id, item_id)
            return None if envelope is None else encode({"event": "event", "data": msgspec.Raw(envelope.encode())})
        alert = await alert_store.get_alert(self._db(), org_id, uuid.UUID(item_id))
        return None if alert is None else encode({"event": "alert", "data": alert})

    async def _poll(self) -> None:
        while True:
            await trio.sleep(self._settings.poll_interval)
            if not self._feeds:
                continue
            try:
                heads = await store.heads(self._db(), list(self._feeds))
            except StoreUnavailable as exc:
                log.debug("the fallback poll could not read the tracks' heads: %s", exc)
                continue
            self._mark_dirty(t for t, head in heads.items() if t in self._feeds
                             and head.last_seq > self._feeds[t].published)

    def _mark_dirty(self, track_ids: Iterable[uuid.UUID]) -> None:
        watched = [track for track in track_ids if track in self._feeds]
        if watched:
            self._dirty.update(watched)
            self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            try:
                await self._publish_dirty()
            except StoreUnavailable as exc:
                log.debug("could not read stream events (%s); retrying", exc)
                await trio.sleep(self._settings.poll_interval)
                self._wake.set()

    async def _count(self) -> None:
        """The counts snapshots that could not ride with their events (the track had one less than
        ``COUNTS_EVERY`` ago), sent ``COUNTS_EVERY`` later."""
        while True:
            await self._counts_wake.wait()
            self._counts_wake = trio.Event()
            await trio.sleep(COUNTS_EVERY)
            try:
                await self._publish_counts()
            except StoreUnavailable as exc:
                log.debug("could not read stream counts (%s); retrying", exc)

    async def _publish_dirty(self) -> None:
        while self._dirty:
            track_id = self._dirty.pop()
            feed = self._feeds.get(track_id)
            while feed is not None:
                events = await store.events_after(self._db(), track_id, feed.published, limit=PAGE)
                counts = await self._counts_with(feed, events[-1].seq) if events else None
                feed = self._feeds.get(track_id)  # everyone may have left while we read
                if feed is None or not events:
                    break
                feed.publish(events, counts)
                if len(events) < PAGE:
                    break

    async def _counts_with(self, feed: _Feed, seq: int) -> str | None:
        """The counts snapshot that goes out with the events just read, when the track's last one is old
        enough; else None, and the ``_count`` task sends one a second after. A snapshot that rides with the
        events costs each connection no write of its own."""
        track_id = feed.head.track_id
        now = trio.current_time()
        if now - feed.counted_at < COUNTS_EVERY * COUNTS_RIDE:
            self._counts_due.add(track_id)
            self._counts_wake.set()
            return None
        self._counts_due.discard(track_id)
        feed.counted_at = now
        return await self._snapshot(feed, seq)

    async def _snapshot(self, feed: _Feed, seq: int) -> str | None:
        """The track's counts frame as of at least ``seq``: read, or the one read less than ``COUNTS_EVERY``
        ago when it includes ``seq`` (a crowd subscribing at once then costs one read a second, not one each)."""
        now, kept = trio.current_time(), feed.snapshot
        if kept is not None and kept[1] >= seq and now - kept[0] < COUNTS_EVERY:
            return kept[2]
        rows = await store.counts(self._db(), [feed.head.track_id], since=self._counts_since())
        if not rows:
            return None
        feed.snapshot = (now, rows[0].seq, counts_frame(rows[0]))
        return feed.snapshot[2]

    async def _publish_counts(self) -> None:
        due, self._counts_due = self._counts_due, set()
        for counts in await store.counts(self._db(), [t for t in due if t in self._feeds],
                                         since=self._counts_since()):
            feed = self._feeds.get(counts.track_id)
            if feed is not None:
                feed.counted_at = trio.current_time()
                frame = counts_frame(counts)
                for queue in feed.subscribers:
                    queue.counts(counts.track_id, frame)

    def _counts_since(self) -> datetime:
        """The start of the counts window: the twelve five-minute buckets up to the current one."""
        return datetime.fromtimestamp(self._now(), UTC) - COUNTS_WINDOW + BUCKET
