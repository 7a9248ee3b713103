"""The listener actor against the Spotify simulator (over ``httpx.ASGITransport``) and a real database.

Rules: the simulator's clock, the actor's wall clock and its sleeps all read trio's ``MockClock``.
We do not use autojump (the database answers from another thread, and autojump would jump to the next
deadline while a query is in flight); ``tests.helpers.clock.advance`` jumps to the next deadline only once every task is
blocked and a deadline exists, which, with the actor alone scheduling them, means "the actor sleeps".
It bounds the real time spent waiting, so a hang fails instead of blocking. The fan's tokens come from
the simulator's OAuth (PKCE), the ground truth from ``simulator.world``; what the actor produced is read
from the database (``stream_events`` and their daily rollup).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing
from prometheus_client import REGISTRY

from actors.spotify_listener import SpotifyListenerActor, listener_accounts_to_run
from adapters.spotify import spotify_window
from adapters.spotify.provider import SpotifyProviders
from adapters.spotify.simulator import ClientApp, FaultConfig, SimClock, SimulatorConfig, SpotifySimulator
from adapters.spotify.simulator.sandbox import pkce_login
from config import Keys, Settings, load, load_or_create_keys
from engine.lease_plan import Lease
from engine.pacing import Pacer
from engine.registry import Registry
from engine.store import listeners as listener_store
from engine.store.database import Database
from engine.store.listener_plays import to_ms
from tests.helpers.clock import run_until
from tests.helpers.factories import claim_lease, create_campaign, create_owner, create_track, take_over_lease

START = datetime(2026, 9, 1, tzinfo=UTC)  # the simulator's (and the wall clock's) time at trio time 0
OPT_IN = START + timedelta(hours=6)
URL = "http://spotify.test"
FAN = "fan0001"


@dataclass
class World:
    sim: SpotifySimulator
    http: httpx.AsyncClient
    settings: Settings
    keys: Keys
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    track: str  # the campaign's Spotify track id
    track_id: uuid.UUID  # ours
    listener_id: uuid.UUID
    refresh_token: str  # the one the fan's opt-in stored
    lease: Lease  # the listener's, claimed as an engine process claims it


def _at(moment: datetime) -> float:
    return (moment - START).total_seconds()


async def _world(db: Database, tmp_path: Path, clock: trio.testing.MockClock, **config: object) -> World:
    clock.jump(_at(OPT_IN) - trio.current_time())
    sim = SpotifySimulator(SimulatorConfig(seed=5, campaign_start=START, campaign_end=START + timedelta(days=30),
                                           campaign_boost=20.0, **config),  # type: ignore[arg-type]
                           clock=SimClock(OPT_IN, monotonic=trio.current_time))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url=URL)
    settings = load({"SONGTRACK_SPOTIFY_CLIENT_ID": ClientApp().client_id, "SONGTRACK_SPOTIFY_ACCOUNTS_URL": URL,
                     "SONGTRACK_SPOTIFY_API_URL": URL})
    keys = load_or_create_keys(tmp_path / "data")
    track = sim.world.catalog.campaign_track_ids[0]
    org, _ = await create_owner(db)
    song = await create_track(db, org.id, title="Single", artist="Label", spotify_id=track)
    campaign = await create_campaign(db, org.id, name="Summer single", start=START, track_id=song)
    tokens = await pkce_login(http, FAN, scope="user-read-recently-played")
    assert tokens.refresh_token is not None
    fan, _ = await listener_store.opt_in(
        db, keys.token_encryption_key, org_id=org.id, campaign_id=campaign, spotify_user_id=FAN,
        display_name="Fan 1", access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        token_expires_at=OPT_IN + timedelta(seconds=tokens.expires_in))
    await db.execute("UPDATE campaign_listeners SET opted_in_at = $1", OPT_IN)  # the simulated moment
    lease = await claim_lease(db, f"spotify-listener:{fan.id}")
    return World(sim, http, settings, keys, org.id, campaign, track, song, fan.id, tokens.refresh_token, lease)


def _actor(db: Database, w: World, pacer: Pacer, registry: Registry | None) -> SpotifyListenerActor:
    providers = SpotifyProviders(db, w.keys.token_encryption_key, w.settings.spotify, now=w.sim.clock.now)
    return SpotifyListenerActor(db, w.listener_id, w.http, pacer, providers.recent_plays, lease=w.lease,
                                now=w.sim.clock.now, registry=registry)


def _pacer() -> Pacer:
    return Pacer(spotify_window)  # Spotify's rolling 30-second window, shared by every listener


async def _run(db: Database, w: World, clock: trio.testing.MockClock, until: datetime, *,
               registry: Registry | None = None) -> tuple[SpotifyListenerActor, bool]:
    """Run one actor until ``until``; returns it and whether ``run`` returned."""
    actor = _actor(db, w, _pacer(), registry)
    return actor, await run_until(clock, actor.run, _at(until))


@dataclass(frozen=True)
class Event:
    event_id: str
    track_id: uuid.UUID
    platform: str
    country: str
    occurred_at: datetime


async def _events(db: Database, track_id: uuid.UUID | None = None) -> list[Event]:
    rows = await db.fetch("SELECT event_id, track_id, platform, country, occurred_at FROM stream_events"
                          " WHERE $1::uuid IS NULL OR track_id = $1 ORDER BY occurred_at", track_id)
    return [Event(**dict(row)) for row in rows]


def _per_day(events: list[Event]) -> dict[date, int]:
    days: dict[date, int] = {}
    for event in events:
        day = event.occurred_at.astimezone(UTC).date()
        days[day] = days.get(day, 0) + 1
    return days


async def _rollup(db: Database, track_id: uuid.UUID) -> dict[date, int]:
    """What the stream counter will read: the daily rollup of the track's events."""
    rows = await db.fetch("SELECT day, sum(streams)::bigint AS n FROM stream_days WHERE track_id = $1 GROUP BY day",
                          track_id)
    return {row["day"]: row["n"] for row in rows}


def _truth(w: World, day: date, *, after: datetime = OPT_IN, track: str | None = None) -> int:
    track = track or w.track
    return sum(1 for p in w.sim.world.plays_on(FAN, day) if p.track_id == track and p.played_at >= after.timestamp())


async def test_a_fans_plays_of_the_campaign_track_become_stream_events(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    assert [r.id for r in await listener_accounts_to_run(db)] == [w.listener_id]
    actor, ended = await _run(db, w, mock_clock, START + timedelta(days=2, hours=1))
    assert not ended and actor.status.consecutive_failures == 0 and actor.status.last_success_at is not None
    day0, day1 = START.date(), START.date() + timedelta(days=1)
    events = await _events(db)
    got = _per_day(events)
    assert (got.get(day0, 0), got.get(day1, 0)) == (_truth(w, day0), _truth(w, day1))
    assert _truth(w, day0) > 0 and _truth(w, day0) < _truth(w, day0, after=START)  # plays before opt-in exist
    assert {(e.track_id, e.platform, e.country) for e in events} == {(w.track_id, "spotify", "ZZ")}
    assert [e.event_id for e in events] == [f"listener:{w.listener_id}:{to_ms(e.occurred_at)}" for e in events]
    assert min(e.occurred_at for e in events) >= OPT_IN
    assert (await _rollup(db, w.track_id)).get(day0) == _truth(w, day0)
    stored = await db.fetchval("SELECT count(*) FROM listener_plays WHERE spotify_track_id <> $1", w.track)
    assert isinstance(stored, int) and stored > 0  # other tracks were seen, stored, and not counted
    assert await db.fetchval("SELECT min(played_at) FROM listener_plays") >= OPT_IN  # type: ignore[operator]
    polls = [r for r in w.sim.log if r.path == "/v1/me/player/recently-played"]
    gaps = [b.sim_time - a.sim_time for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= 600 - 1 and max(gaps) <= 3600 * 1.1 + 1  # MIN_INTERVAL..MAX_INTERVAL (+ jitter)


async def test_overlapping_polls_count_nothing_twice(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    day0 = START.date()
    await _run(db, w, mock_clock, START + timedelta(hours=20))
    first = _per_day(await _events(db))[day0]
    seqs = await db.fetchval("SELECT last_seq FROM live_tracks")
    # Forget the cursor: the next actor polls again from the opt-in, over every play already stored.
    await db.execute("UPDATE listener_accounts SET plays_cursor_ms = NULL")
    await _run(db, w, mock_clock, START + timedelta(hours=23, minutes=59))
    events = await _events(db)
    assert first <= _per_day(events)[day0] == _truth(w, day0)
    assert (await _rollup(db, w.track_id))[day0] == _truth(w, day0)  # nothing counted twice either
    assert await db.fetchval("SELECT last_seq FROM live_tracks") == len(events) >= seqs  # type: ignore[operator]
    stored = await db.fetchval("SELECT count(*) FROM listener_plays")
    visible = sum(1 for p in w.sim.world.plays_on(FAN, day0) if p.played_at >= OPT_IN.timestamp())
    assert stored == visible  # every play once, none twice


async def test_a_play_counts_once_and_only_after_opting_in_to_a_campaign_of_its_track(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    # A second campaign of the same track (one event per play, not two), and one of another track that
    # the fan joins later: that track's plays before then are stored but are not streams of anyone's.
    other_spotify = w.sim.world.catalog.campaign_track_ids[1]
    other = await create_track(db, w.org_id, title="B-side", artist="Label", spotify_id=other_spotify)
    later = OPT_IN + timedelta(hours=8)
    for track_id, opted_in_at in ((w.track_id, OPT_IN), (other, later)):
        campaign = await create_campaign(db, w.org_id, name=f"Push {track_id}", budget=10.0, start=START,
                                         track_id=track_id)
        await db.execute("INSERT INTO campaign_listeners (campaign_id, listener_id, opted_in_at)"
                         " VALUES ($1, $2, $3)", campaign, w.listener_id, opted_in_at)
    await _run(db, w, mock_clock, START + timedelta(hours=23, minutes=59))
    day0 = START.date()
    assert _per_day(await _events(db, w.track_id))[day0] == _truth(w, day0)
    others = await _events(db, other)
    assert len(others) == _truth(w, day0, after=later, track=other_spotify) > 0
    assert min(e.occurred_at for e in others) >= later
    assert _truth(w, day0, track=other_spotify) > len(others)  # the fan played it before joining its campaign
    stored = await db.fetchval("SELECT count(*) FROM listener_plays WHERE spotify_track_id = $1", other_spotify)
    assert stored == _truth(w, day0, track=other_spotify)


async def test_an_expired_token_is_refreshed_and_the_rotated_one_stored(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    actor, ended = await _run(db, w, mock_clock, OPT_IN + timedelta(hours=3))
    assert not ended and actor.status.consecutive_failures == 0
    refreshes = [r for r in w.sim.log if r.path == "/api/token" and r.status == 200]
    assert len(refreshes) >= 3  # the login, then one per expired hour
    tokens = await listener_store.listener_tokens(db, w.keys.token_encryption_key, w.org_id, w.listener_id)
    assert tokens is not None and tokens.refresh_token not in (None, w.refresh_token)
    # PKCE refresh tokens are single-use: the first is spent, and what we stored is the live one.
    spent = await w.http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": w.refresh_token,
                                                  "client_id": ClientApp().client_id})
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    assert not [r for r in w.sim.log if r.path.startswith("/v1") and r.status == 401]  # never sent a stale one


async def test_a_revoked_refresh_token_needs_reauth_and_the_actor_stops(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    # The fan's refresh token is used elsewhere (rotated away): ours is dead from then on.
    used = await w.http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": w.refresh_token,
                                                 "client_id": ClientApp().client_id})
    assert used.status_code == 200
    registry = Registry()
    actor, ended = await _run(db, w, mock_clock, OPT_IN + timedelta(hours=4), registry=registry)
    assert ended and actor.status.state == "needs_reauth" and "invalid_grant" in (actor.status.last_error or "")
    detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail
    assert detail is not None and detail["state"] == "needs_reauth" and detail["last_success_at"] is not None
    assert await db.fetchval("SELECT status FROM listener_accounts") == "needs_reauth"
    assert await listener_accounts_to_run(db) == []
    polls = [r for r in w.sim.log if r.path.startswith("/v1")]
    assert polls and max(r.sim_time for r in polls) < (OPT_IN + timedelta(hours=1)).timestamp()  # none after


async def test_retry_after_is_honoured_and_a_long_one_parks_across_a_restart(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    short = (OPT_IN + timedelta(minutes=20), OPT_IN + timedelta(minutes=40))  # Retry-After about 10 min
    long = (OPT_IN + timedelta(hours=2), OPT_IN + timedelta(hours=5))  # about 3 h: past the park threshold
    w = await _world(db, tmp_path, mock_clock, faults=FaultConfig(storms=(short, long)))
    await _run(db, w, mock_clock, OPT_IN + timedelta(hours=3))
    parked = await db.fetchval("SELECT polls_parked_until FROM listener_accounts")
    assert isinstance(parked, datetime) and long[1] <= parked < long[1] + timedelta(minutes=5)
    # A restart (a new process: a fresh pacer) still waits the park out.
    actor, _ = await _run(db, w, mock_clock, OPT_IN + timedelta(hours=8))
    calls = [r for r in w.sim.log if r.path.startswith("/v1")]
    for begin, end in (short, long):
        inside = [r for r in calls if begin.timestamp() <= r.sim_time < end.timestamp()]
        assert [r.status for r in inside] == [429]  # one refusal, then nothing until Retry-After ran out
    assert calls[-1].status == 200 and actor.status.consecutive_failures == 0
    assert _per_day(await _events(db))[START.date()] == sum(
        1 for p in w.sim.world.plays_on(FAN, START.date())
        if p.track_id == w.track and OPT_IN.timestamp() <= p.played_at <= calls[-1].sim_time)


async def test_plays_polled_under_a_lease_taken_over_are_not_stored_and_the_actor_stops(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mock_clock)
    fenced = {"write": "listener_plays"}
    refused = REGISTRY.get_sample_value("songtrack_fenced_writes_total", fenced) or 0.0
    await take_over_lease(db, w.lease)  # another engine process claimed the listener before our first poll
    registry = Registry()
    actor, ended = await _run(db, w, mock_clock, OPT_IN + timedelta(hours=3), registry=registry)
    assert ended and actor.status.state == "stopped"
    assert "lost to another engine process" in (actor.status.last_error or "")
    assert len([r for r in w.sim.log if r.path == "/v1/me/player/recently-played"]) == 1  # polled once, then stopped
    assert await db.fetchval("SELECT count(*) FROM listener_plays") == 0 and await _events(db) == []
    assert await db.fetchval("SELECT plays_cursor_ms FROM listener_accounts") is None  # the cursor did not move
    assert (REGISTRY.get_sample_value("songtrack_fenced_writes_total", fenced) or 0.0) - refused == 1
    detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail
    assert detail is not None and detail["state"] == "stopped"
