"""The simulated world over time: what each opted-in listener played, and daily streams per track.

Plays are generated lazily per (listener, UTC day) from an RNG seeded by ``(seed, listener, day)``, so
they do not depend on the order of requests or on the clock: the API only decides which of them are
already visible (finished before the simulated "now"). While the campaign runs, the campaign tracks'
play weight is multiplied by ``campaign_boost``. The ground-truth queries at the bottom are for tests
and benchmarks; the HTTP API never exposes stream counts, as the real one does not.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import msgspec

from adapters.spotify.simulator.catalog import Catalog, Track
from adapters.spotify.simulator.config import SimulatorConfig

__all__ = ["TIME_RANGES", "Context", "Play", "World", "utc_day"]

_DAY = 86_400.0
_HISTORY_DAYS = 60  # how far back we look for a listener's 50 most recent plays
TIME_RANGES = {"short_term": 0.25, "medium_term": 0.15, "long_term": 0.05}  # rank noise per range


class Context(msgspec.Struct, frozen=True):
    type: str  # "playlist" | "album"
    id: str


class Play(msgspec.Struct, frozen=True):
    track_id: str
    played_at: float  # Unix seconds, millisecond precision: when the play finished
    context: Context | None


def utc_day(t: float) -> date:
    return datetime.fromtimestamp(t, UTC).date()


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class World:
    """The catalogue plus every listener's plays; deterministic under ``config.seed``."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.catalog = Catalog(config)
        self._track_ids = list(self.catalog.tracks)
        self._campaign = frozenset(self.catalog.campaign_track_ids)
        window = (config.campaign_start, config.campaign_end)
        self._window = (window[0].timestamp(), window[1].timestamp()) if window[0] and window[1] else None
        self._taste: dict[str, list[float]] = {}
        self._plays: dict[tuple[str, date], tuple[Play, ...]] = {}

    # -- the campaign ---------------------------------------------------------------------------------

    def campaign_active(self, t: float) -> bool:
        return self._window is not None and self._window[0] <= t < self._window[1]

    def _campaign_fraction(self, day: date) -> float:
        if self._window is None:
            return 0.0
        lo, hi = _day_start(day), _day_start(day) + _DAY
        return max(0.0, min(hi, self._window[1]) - max(lo, self._window[0])) / _DAY

    # -- listeners ------------------------------------------------------------------------------------

    def taste(self, user_id: str) -> list[float]:
        """The user's play weight per track (catalogue order): skewed, so each fan has favourites."""
        if user_id not in self._taste:
            rng = random.Random(f"{self.config.seed}:taste:{user_id}")
            self._taste[user_id] = [rng.expovariate(1.0) ** 2 + 0.01 for _ in self._track_ids]
        return self._taste[user_id]

    def plays_on(self, user_id: str, day: date) -> tuple[Play, ...]:
        """Every play the user finishes on that UTC day, oldest first (ignores "now")."""
        key = (user_id, day)
        if key not in self._plays:
            self._plays[key] = self._generate(user_id, day)
        return self._plays[key]

    def _generate(self, user_id: str, day: date) -> tuple[Play, ...]:
        rng = random.Random(f"{self.config.seed}:plays:{user_id}:{day.isoformat()}")
        weights = self.taste(user_id)
        boosted = [w * self.config.campaign_boost if t in self._campaign else w
                   for w, t in zip(weights, self._track_ids, strict=True)]
        cumulative = (list(itertools.accumulate(weights)), list(itertools.accumulate(boosted)))
        start = _day_start(day)
        count = rng.randint(*self.config.plays_per_day)
        times = sorted(round(start + rng.uniform(0, _DAY - 0.001), 3) for _ in range(count))
        plays = []
        for t in times:
            cum = cumulative[1] if self.campaign_active(t) else cumulative[0]
            index = bisect.bisect_right(cum, rng.uniform(0, cum[-1]))
            track = self.catalog.tracks[self._track_ids[min(index, len(cum) - 1)]]
            plays.append(Play(track.id, t, self._context(rng, track)))
        return tuple(plays)

    def _context(self, rng: random.Random, track: Track) -> Context | None:
        roll = rng.random()
        holding = [p.id for p in self.catalog.playlists.values() if track.id in p.track_ids]
        if roll < 0.5 and holding:
            return Context("playlist", rng.choice(holding))
        if roll < 0.8:
            return Context("album", track.album_id)
        return None

    def recent_plays(self, user_id: str, now: float, limit: int = 50) -> list[Play]:
        """The ``limit`` most recent plays finished at or before ``now``, newest first."""
        found: list[Play] = []
        day = utc_day(now)
        for _ in range(_HISTORY_DAYS):
            found.extend(p for p in reversed(self.plays_on(user_id, day)) if p.played_at <= now)
            if len(found) >= limit:
                break
            day -= timedelta(days=1)
        return found[:limit]

    def top_tracks(self, user_id: str, time_range: str) -> list[Track]:
        """The user's tracks ranked by taste, with noise that differs per time range."""
        rng = random.Random(f"{self.config.seed}:top:{user_id}:{time_range}")
        noise = TIME_RANGES[time_range]
        scored = [(w * rng.uniform(1 - noise, 1 + noise), t) for w, t in zip(self.taste(user_id), self._track_ids,
                                                                              strict=True)]
        scored.sort(key=lambda pair: -pair[0])
        return [self.catalog.tracks[t] for _, t in scored]

    def top_artist_ids(self, user_id: str, time_range: str) -> list[str]:
        totals: Counter[str] = Counter()
        for rank, track in enumerate(self.top_tracks(user_id, time_range)):
            totals[track.artist_id] += len(self._track_ids) - rank
        return [artist_id for artist_id, _ in totals.most_common()]

    def saved_tracks(self, user_id: str) -> list[tuple[Track, float]]:
        """The user's library: (track, added_at), most recently added first."""
        rng = random.Random(f"{self.config.seed}:saved:{user_id}")
        chosen = rng.sample(self._track_ids, k=min(len(self._track_ids), rng.randint(5, 30)))
        origin = self.config.start.timestamp()
        saved = [(self.catalog.tracks[t], round(origin - rng.uniform(0, 400 * _DAY))) for t in chosen]
        return sorted(saved, key=lambda pair: -pair[1])

    # -- ground truth (tests and benchmarks only) -----------------------------------------------------

    def plays_per_track(self, user_id: str, day: date) -> Counter[str]:
        """How many times the user played each track on that UTC day (the whole day)."""
        return Counter(p.track_id for p in self.plays_on(user_id, day))

    def daily_streams(self, track_id: str, day: date) -> int:
        """All streams of the track on that UTC day: background streams plus the simulated listeners'."""
        track = self.catalog.tracks[track_id]
        rng = random.Random(f"{self.config.seed}:streams:{track_id}:{day.isoformat()}")
        background = track.base_daily * rng.uniform(0.8, 1.2)
        if track_id in self._campaign:
            background *= 1 + (self.config.campaign_boost - 1) * self._campaign_fraction(day)
        listened = sum(self.plays_per_track(u.id, day)[track_id] for u in self.catalog.listeners)
        return round(background) + listened
