"""The account actors' kinds, each wired to its provider: the one place a provider plugs into a running
process. Adding a provider is an adapter folder (its ``engine.providers`` implementation) and a line here.

We do not run the kinds (``actors.accounts.AccountsSupervisor`` does, started by ``runtime``) and we
do not choose the poll schedule's standard figures (the actors do); we only scale them to the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from actors.accounts import ActorKind
from actors.http import HttpFactory
from actors.meta_account import meta_kind
from actors.meta_schedule import MetaSchedule
from actors.spotify_label import POLL_INTERVAL as SPOTIFY_LABEL_INTERVAL
from actors.spotify_label import spotify_label_kind
from actors.spotify_listener import listener_kind
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.spotify import spotify_window
from adapters.spotify.provider import SpotifyProviders
from engine.messages import MetricSample
from engine.pacing import Pacer

if TYPE_CHECKING:
    from actors.meta_signals import MetaWriteSignals
    from config import Keys, Settings
    from engine.clock import WallClock
    from engine.registry import Registry
    from engine.store.database import Database

__all__ = ["account_kinds"]

_FLOOR = 5.0  # seconds: the shortest Meta poll interval a fast sandbox clock scales to


def account_kinds(db: Database, settings: Settings, keys: Keys, registry: Registry,
                  samples: trio.MemorySendChannel[MetricSample], http_factory: HttpFactory,
                  clock: WallClock, signals: MetaWriteSignals | None = None) -> list[ActorKind]:
    """Every kind of account actor, Meta's first when a Meta app is configured. One Pacer per provider app:
    every actor of a provider spends the app's rate limit.

    ``signals`` wakes the Meta actors when writes to Meta are queued. ``clock`` is the actors' wall clock.
    Its ``speed`` (the sandbox's simulated clock) divides the Meta (``[meta] poll_interval``) and Spotify
    label polling intervals, which are trio (real) seconds, so the pollers keep their cadence in simulated
    time, with floors that keep a fast sandbox from flooding the simulators."""
    spotify = SpotifyProviders(db, keys.token_encryption_key, settings.spotify, now=clock.now)
    spotify_pacer = Pacer(spotify_window)
    standard, interval = MetaSchedule(), settings.meta.poll_interval
    schedule = MetaSchedule(interval=max(min(_FLOOR, interval), interval / clock.speed),
                            restatement_every=max(60.0, standard.restatement_every / clock.speed))
    meta = [meta_kind(db, keys, registry, samples, http_factory, meta_ads(settings.meta), pacer=Pacer(meta_window),
                      schedule=schedule, wall=clock, signals=signals)] if settings.meta.app_id is not None else []
    return [
        *meta,
        listener_kind(db, registry, http_factory, spotify.recent_plays, pacer=spotify_pacer, now=clock.now),
        spotify_label_kind(db, keys, registry, http_factory, spotify.track_figures, pacer=spotify_pacer,
                           interval=max(60.0, SPOTIFY_LABEL_INTERVAL / clock.speed), now=clock.now),
    ]
