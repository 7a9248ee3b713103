"""Sandbox only: live stream events for the demo label's tracks, so a WebSocket client has something to
watch without a real source of events.

``listens`` is the pure, seeded model (Poisson arrivals, a label-like audience); ``SandboxStreams`` is the
actor that stores, once a second, the listens of that second for every track of the demo organization's
active campaigns. It does not decide when it runs: ``engine/runtime.py`` starts it only in sandbox mode.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, NoReturn

import trio

from engine.store import campaigns
from engine.store.catalog_common import NotFound
from engine.store.database import Database
from engine.store.stream_events import NewEvent, ingest

__all__ = ["Listen", "SandboxStreams", "Timeline", "listens"]

log = logging.getLogger(__name__)

# A plausible audience of a Western indie label: its home markets first, then a long-ish tail.
_COUNTRIES = ("US", "GB", "SE", "DE", "BR", "MX", "FR", "CA", "AU", "NL", "JP", "ES", "IT", "PL", "NO")
_COUNTRY_WEIGHTS = (30, 12, 10, 9, 8, 7, 6, 6, 4, 3, 3, 3, 3, 2, 2)
_PLATFORMS = ("spotify", "apple_music", "youtube")
_PLATFORM_WEIGHTS = (80, 12, 8)
_COUNTRY_CUM = tuple(itertools.accumulate(_COUNTRY_WEIGHTS))
_PLATFORM_CUM = tuple(itertools.accumulate(_PLATFORM_WEIGHTS))
_PAGE = 100  # campaigns per read of the track list (the list API's own page size)


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

    def until(self, end: float) -> list[tuple[float, Listen]]:
        """The listens not yet taken whose offset is before ``end``, with their offsets."""
        taken = []
        while self._at < end:
            taken.append((self._at, self._next))
            self._next = next(self._listens)
            self._at += self._next.gap
        return taken


class SandboxStreams:
    """Stores simulated listens of the organization's tracks as live stream events.

    Every second (``now``, trio's clock) it ingests the listens of the whole seconds gone by, for each
    track of the organization's ``active`` campaigns (one that has not started yet is active too), each
    track its own ``Timeline`` at ``rate`` a second seeded by (``seed``, track id). The track list is
    re-read every ``refresh`` seconds. ``occurred_at`` is the listen's moment, ``received_at`` the wall
    clock at ingest. Event ids start with the wall-clock time of ``run``'s start, so a restart (which
    replays the same seeded sequence) never reuses an earlier id.

    ``run`` reports started once it has read the track list. Error handling: database errors propagate
    (the supervisor restarts us); a track deleted under us makes us re-read the list and skip that batch.
    """

    def __init__(self, db: Database, organization_id: uuid.UUID, *, rate: float, seed: int,
                 refresh: float = 60.0, now: Callable[[], float] = trio.current_time,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db, self._org, self._rate, self._seed = db, organization_id, rate, seed
        self._refresh, self._now, self._wall = refresh, now, wall
        self._timelines: dict[uuid.UUID, Timeline] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        start, wall_start = self._now(), self._wall()
        prefix = f"sandbox-{wall_start:%Y%m%dT%H%M%S.%f}-"
        ids = itertools.count(1)
        await self._read_tracks(0.0)
        read_at, done = 0.0, 0
        task_status.started()
        while True:
            await trio.sleep_until(start + done + 1)
            # Whole seconds elapsed: after a slow ingest we catch up in one batch, not one per second.
            upto = max(done + 1, math.floor(self._now() - start))
            events = [NewEvent(event_id=f"{prefix}{next(ids)}", track_id=track, platform=listen.platform,
                               country=listen.country, occurred_at=wall_start + timedelta(seconds=at))
                      for track, timeline in self._timelines.items() for at, listen in timeline.until(upto)]
            done = upto
            if events:
                try:
                    await ingest(self._db, self._org, events, received_at=self._wall())
                except NotFound:
                    # A track (or its campaign's link) went away since the last read; its events are moot.
                    log.info("sandbox streams: a track is gone; re-reading the demo tracks")
                    read_at = -math.inf
            if done - read_at >= self._refresh:
                await self._read_tracks(float(done))
                read_at = done

    async def _read_tracks(self, offset: float) -> None:
        """Keep the timelines of tracks still promoted, start new ones at ``offset``, drop the rest."""
        tracks: set[uuid.UUID] = set()
        for first in itertools.count(0, _PAGE):
            page = await campaigns.list_campaigns(self._db, self._org, status="active", limit=_PAGE, offset=first)
            tracks.update(c.track_id for c in page.items if c.track_id is not None)
            if len(page.items) < _PAGE:
                break
        self._timelines = {track: self._timelines.get(track) or Timeline(f"{self._seed}/{track}", self._rate, offset)
                           for track in sorted(tracks)}
