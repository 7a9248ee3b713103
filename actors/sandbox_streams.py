"""Sandbox only: live stream events for the demo label's tracks, so a WebSocket client has something to
watch and the demo campaign's analytics have streams to count, without a real source of events.

``listens`` is the pure, seeded model (Poisson arrivals, a label-like audience) and ``day_timeline`` lays
it out over one track's UTC day; ``SandboxStreams`` is the actor that stores, once a second, each promoted
track's listens up to the wall clock, from that day's midnight on. It does not decide when it runs nor
how fast: ``songtrack/runtime.py`` starts it only in sandbox mode, on the simulated clock, at a rate per
simulated second that keeps the real load at ``[simulators] stream_rate`` a second.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, NoReturn

import trio

from engine.clock import utc_now
from engine.store import campaigns
from engine.store.catalog_common import NotFound
from engine.store.database import Database
from engine.store.stream_events import IngestResult, NewEvent, ingest

__all__ = ["CHUNK", "Listen", "SandboxStreams", "Timeline", "day_timeline", "event_id", "listens"]

log = logging.getLogger(__name__)

# A plausible audience of a Western indie label: its home markets first, then a long-ish tail.
_COUNTRIES = ("US", "GB", "SE", "DE", "BR", "MX", "FR", "CA", "AU", "NL", "JP", "ES", "IT", "PL", "NO")
_COUNTRY_WEIGHTS = (30, 12, 10, 9, 8, 7, 6, 6, 4, 3, 3, 3, 3, 2, 2)
_PLATFORMS = ("spotify", "apple_music", "youtube")
_PLATFORM_WEIGHTS = (80, 12, 8)
_COUNTRY_CUM = tuple(itertools.accumulate(_COUNTRY_WEIGHTS))
_PLATFORM_CUM = tuple(itertools.accumulate(_PLATFORM_WEIGHTS))
_PAGE = 100  # campaigns per read of the track list (the list API's own page size)
# Events per ingest call: a day's backfill runs to 172,800 events at the default rate, and one ingest is
# one transaction holding its tracks' locks, so we keep each one small.
CHUNK = 2000
_DAY = 86_400.0


class Listen(NamedTuple):
    gap: float  # seconds since the previous listen (the first: since the timeline's start)
    country: str
    platform: str


def listens(seed: int | str, rate: float) -> Iterator[Listen]:
    """An endless sequence of listens arriving at ``rate`` a second (a Poisson process: exponential
    gaps); the same seed and rate give the same sequence. Raises ``ValueError`` unless ``rate > 0``."""
    if not rate > 0:
        raise ValueError(f"rate must be > 0, not {rate}")
    rng = random.Random(seed)  # a str seed is hashed with SHA-512: stable across runs and processes
    while True:
        gap = rng.expovariate(rate)
        country = rng.choices(_COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
        platform = rng.choices(_PLATFORMS, cum_weights=_PLATFORM_CUM)[0]
        yield Listen(gap, country, platform)


class Timeline:
    """One track's listens placed at offsets (seconds) from ``start``; taken in order, each once."""

    def __init__(self, seed: int | str, rate: float, start: float = 0.0) -> None:
        self._listens = listens(seed, rate)
        self._next = next(self._listens)
        self._at = start + self._next.gap

    def until(self, end: float, limit: int | None = None) -> list[tuple[float, Listen]]:
        """The listens not yet taken whose offset is before ``end``, with their offsets; at most ``limit``
        of them (None: all)."""
        taken: list[tuple[float, Listen]] = []
        while self._at < end and (limit is None or len(taken) < limit):
            taken.append((self._at, self._next))
            self._next = next(self._listens)
            self._at += self._next.gap
        return taken


def day_timeline(seed: int, track: uuid.UUID, day: date, rate: float) -> Timeline:
    """The listens of ``track`` on the UTC ``day``, at offsets in seconds from its midnight (those at
    86,400 or later belong to no day: the next day has its own timeline)."""
    return Timeline(f"{seed}/{track}/{day:%Y%m%d}", rate)


def event_id(track: uuid.UUID, day: date, n: int) -> str:
    """The id of the ``n``-th (from 1) listen of ``track`` on ``day``: the same at every replay of the
    day, and distinct between tracks (ids are unique per organization)."""
    return f"sandbox-{track}-{day:%Y%m%d}-{n}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class _TrackDay:
    """Where we stand in one track's timeline of one day: the listens taken so far, and the next id."""

    def __init__(self, seed: int, track: uuid.UUID, day: date, rate: float) -> None:
        self.track, self.day, self.midnight = track, day, _midnight(day)
        self._timeline = day_timeline(seed, track, day, rate)
        self._taken = 0

    def take(self, upto: datetime, limit: int) -> list[NewEvent]:
        """The day's next listens before ``upto`` (and before the day's end), at most ``limit``."""
        end = min(_DAY, (upto - self.midnight).total_seconds())
        events = []
        for at, listen in self._timeline.until(end, limit):
            self._taken += 1
            events.append(NewEvent(event_id=event_id(self.track, self.day, self._taken), track_id=self.track,
                                   platform=listen.platform, country=listen.country,
                                   occurred_at=self.midnight + timedelta(seconds=at)))
        return events


class SandboxStreams:
    """Stores simulated listens of the organization's tracks as live stream events.

    Each track of the organization's ``active`` campaigns (one that has not started yet is active too)
    has, per UTC day, its own timeline of listens at ``rate`` a second of the wall clock, seeded by
    (``seed``, track id, day) and anchored at the day's midnight, whose n-th listen has the id
    ``event_id(track, day, n)``. On each tick we ingest every track's listens from where we stand up to
    the wall clock (``wall``), at most ``CHUNK`` events per ``ingest`` call; when the wall clock has
    passed midnight (more than once, on a fast simulated clock) we first finish each older day's
    timeline, then go on with the newest. A track we start watching (at the start of
    ``run``, or later) starts at today's midnight, so the first catch-up backfills the day so far. A day
    is the same whenever it is replayed, so after a restart ``ingest`` finds the replayed ids stored and
    counts them as duplicates. Ticks come once a second by trio's clock (``now``), and the track list is
    re-read every ``refresh`` seconds of it. ``occurred_at`` is the listen's moment, ``received_at`` the
    wall clock at ingest.

    ``run`` reports started once it has read the track list (before the backfill). Error handling:
    database errors propagate (the supervisor restarts us); a track deleted under us makes us re-read
    the list and skip the rest of that track's listens of the tick.
    """

    def __init__(self, db: Database, organization_id: uuid.UUID, *, rate: float, seed: int,
                 refresh: float = 60.0, now: Callable[[], float] = trio.current_time,
                 wall: Callable[[], datetime] = utc_now) -> None:
        self._db, self._org, self._rate, self._seed = db, organization_id, rate, seed
        self._refresh, self._now, self._wall = refresh, now, wall
        self._days: dict[uuid.UUID, _TrackDay] = {}
        self._stored = IngestResult(accepted=0, duplicates=0)  # since ``run`` started, for the log

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        start = self._now()
        await self._read_tracks()
        read_at = start
        task_status.started()
        await self._backfill()
        while True:
            if not await self._catch_up(self._wall()):
                read_at = -math.inf
            if self._now() - read_at >= self._refresh:
                await self._read_tracks()
                read_at = self._now()
            # The next whole second since start: after a slow catch-up (the backfill) we go on at once.
            await trio.sleep_until(start + math.floor(self._now() - start) + 1)

    async def _backfill(self) -> None:
        """The first catch-up, from today's midnight: logged, since at the default rate late in the day it
        is some 170,000 events and takes a while."""
        began = self._now()
        await self._catch_up(self._wall())
        log.info("sandbox streams: today's listens so far stored in %.1f s (%d new, %d already stored)",
                 self._now() - began, self._stored.accepted, self._stored.duplicates)

    async def _catch_up(self, upto: datetime) -> bool:
        """Store every track's listens before ``upto``; False if a track turned out to be gone."""
        whole = True
        for track in list(self._days):
            try:
                await self._catch_up_track(track, upto)
            except NotFound:
                # The track (or its campaign's link) went away since the last read; its listens are moot.
                log.info("sandbox streams: a track is gone; re-reading the demo tracks")
                whole = False
        return whole

    async def _catch_up_track(self, track: uuid.UUID, upto: datetime) -> None:
        today = upto.astimezone(UTC).date()
        while True:
            state = self._days[track]
            while events := state.take(upto, CHUNK):
                done = await ingest(self._db, self._org, events, received_at=self._wall())
                self._stored = IngestResult(accepted=self._stored.accepted + done.accepted,
                                            duplicates=self._stored.duplicates + done.duplicates)
            if state.day >= today:
                return
            self._days[track] = _TrackDay(self._seed, track, state.day + timedelta(days=1), self._rate)

    async def _read_tracks(self) -> None:
        """Keep where we stand in the tracks still promoted, start new ones at today's midnight, drop the
        rest."""
        tracks: set[uuid.UUID] = set()
        for first in itertools.count(0, _PAGE):
            page = await campaigns.list_campaigns(self._db, self._org, status="active", limit=_PAGE, offset=first)
            tracks.update(c.track_id for c in page.items if c.track_id is not None)
            if len(page.items) < _PAGE:
                break
        today = self._wall().astimezone(UTC).date()
        self._days = {track: self._days.get(track) or _TrackDay(self._seed, track, today, self._rate)
                      for track in sorted(tracks)}
