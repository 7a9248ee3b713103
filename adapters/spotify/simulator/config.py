"""The simulator's configuration and its simulated clock.

Everything the simulator decides (token expiry, plays, rate windows, quotas) reads the simulated clock:
``start + elapsed * speed``, where ``elapsed`` comes from an injectable monotonic source so that tests
can step time by hand. Configuration is strict (``forbid_unknown_fields``); every field has a default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "DEFAULT_START",
    "ClientApp",
    "FaultConfig",
    "ManualTime",
    "Mode",
    "RateLimitConfig",
    "SimClock",
    "SimulatorConfig",
]

Mode = Literal["development", "extended"]

DEFAULT_START = datetime(2026, 9, 1, tzinfo=UTC)


class ClientApp(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One registered app, as in the developer dashboard."""

    client_id: str = "sim0client0id000000000000000000aa"
    client_secret: str = "sim0client0secret00000000000000bb"
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/callback", "https://app.example.com/callback")


class RateLimitConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The hidden limits. ``None`` switches a limit off."""

    window_limit: Annotated[int, Meta(ge=1)] | None = None  # calls per rolling window, per app
    window_s: Annotated[float, Meta(gt=0)] = 30.0
    json_body: bool = False  # the window 429 body: plain "Too many requests" (historical) or JSON
    penalty_s: Annotated[float, Meta(ge=0)] = 0.0  # added to Retry-After for every call while throttled
    daily_quota: Annotated[int, Meta(ge=1)] | None = None  # calls per 24 h from the first call


class FaultConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Injected faults; rates are probabilities per API request, drawn from the seeded fault RNG."""

    latency_s: Annotated[float, Meta(ge=0)] = 0.0  # real (trio) seconds added to every response
    error_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0  # 500/502/503
    malformed_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0  # 200 with a truncated JSON body
    storm_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0  # 429 with storm_retry_after
    storm_retry_after: Annotated[int, Meta(ge=0)] = 5
    # Scheduled storms in simulated time: every call inside one gets a 429 until the storm ends.
    storms: tuple[tuple[datetime, datetime], ...] = ()


class SimulatorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole simulator: the world's shape, the campaign, the app, its mode, limits and faults."""

    seed: int = 0
    mode: Mode = "extended"
    start: datetime = DEFAULT_START  # simulated time at elapsed == 0
    speed: Annotated[float, Meta(gt=0)] = 1.0
    artists: Annotated[int, Meta(ge=1)] = 6
    tracks_per_artist: Annotated[int, Meta(ge=1)] = 8
    listeners: Annotated[int, Meta(ge=0)] = 12
    playlists: Annotated[int, Meta(ge=0)] = 4
    plays_per_day: tuple[int, int] = (15, 45)  # per listener, uniform in [lo, hi]
    campaign_tracks: Annotated[int, Meta(ge=0)] = 3  # the label artist's first N tracks
    campaign_start: datetime | None = None
    campaign_end: datetime | None = None
    campaign_boost: Annotated[float, Meta(ge=0)] = 5.0  # play-weight multiplier while the campaign runs
    clients: tuple[ClientApp, ...] = (ClientApp(),)
    consent: Literal["approve", "deny"] = "approve"
    # Logins that come back to one of these (exactly) are fans: without ``sim_user``, each is the next
    # simulated listener in turn (the label user is everyone else's). A fan link's callback, in the sandbox.
    fan_redirect_uris: tuple[str, ...] = ()
    allowlist: tuple[str, ...] | None = None  # dev mode; None → the label user and the first 4 listeners
    rate_limit: RateLimitConfig = RateLimitConfig()
    faults: FaultConfig = FaultConfig()

    def __post_init__(self) -> None:
        lo, hi = self.plays_per_day
        if not 0 <= lo <= hi:
            raise ValueError("plays_per_day must be 0 <= lo <= hi")
        if (self.campaign_start is None) != (self.campaign_end is None):
            raise ValueError("campaign_start and campaign_end go together")


class SimClock:
    """Simulated Unix time: ``start + (monotonic() - t0) * speed``; ``monotonic`` is injectable."""

    def __init__(self, start: datetime, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._start, self._speed, self._monotonic = start.timestamp(), speed, monotonic
        self._t0 = monotonic()

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        return self._start + (self._monotonic() - self._t0) * self._speed


class ManualTime:
    """A monotonic source for tests: it moves only when ``advance`` is called."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
