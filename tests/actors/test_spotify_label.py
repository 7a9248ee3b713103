"""The Spotify label actor against the Spotify simulator (over ``httpx.ASGITransport``) and a real database.

Rules: the simulator's clock, the actor's wall clock and its sleeps all read trio's ``MockClock``, and
trio time 0 is ``START`` (midnight UTC). We do not use autojump (the database answers from another
thread); ``tests.helpers.clock.advance`` jumps to the next deadline only once every task is blocked
and one exists, which, with the actor alone scheduling them, means "the actor sleeps". The label's tokens come from the
simulator's OAuth (PKCE); the ground truth is the simulator's catalogue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import trio
import trio.testing
from prometheus_client import REGISTRY

from actors.spotify_label import POLL_INTERVAL, SpotifyLabelActor, spotify_label_kind
from adapters.spotify import spotify_window
from adapters.spotify.provider import SpotifyProviders
from adapters.spotify.simulator import ClientApp, FaultConfig, SimClock, SimulatorConfig, SpotifySimulator
from adapters.spotify.simulator.sandbox import pkce_login
from config import Keys, Settings, load, load_or_create_keys
from engine.lease_plan import Lease
from engine.pacing import Pacer
from engine.registry import Registry
from engine.store import integrations as integration_store
from engine.store import track_figures as figures
from engine.store.database import Database
from tests.helpers.clock import advance, run_until
from tests.helpers.factories import claim_lease, create_owner, create_track, take_over_lease

START = datetime(2026, 9, 1, tzinfo=UTC)  # midnight UTC: four 6-hour polls fall on the same UTC day
URL = "http://spotify.test"


@dataclass
class World:
    sim: SpotifySimulator
    http: httpx.AsyncClient
    settings: Settings
    keys: Keys
    org_id: uuid.UUID
    integration: integration_store.Integration
    refresh_token: str
    songs: dict[uuid.UUID, str]  # our track id → its Spotify id
    lease: Lease  # the integration's, claimed as an engine process claims it


def _at(moment: datetime) -> float:
    return (moment - START).total_seconds()


async def _world(db: Database, tmp_path: Path, **config: object) -> World:
    sim = SpotifySimulator(SimulatorConfig(seed=7, start=START, **config),  # type: ignore[arg-type]
                           clock=SimClock(START, monotonic=trio.current_time))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url=URL)
    settings = load({"SONGTRACK_SPOTIFY_CLIENT_ID": ClientApp().client_id, "SONGTRACK_SPOTIFY_ACCOUNTS_URL": URL,
                     "SONGTRACK_SPOTIFY_API_URL": URL})
    keys = load_or_create_keys(tmp_path / "data")
    org, _ = await create_owner(db)
    catalog = sim.world.catalog
    other = next(t.id for t in catalog.tracks.values() if t.artist_id != catalog.label_artist.id)
    songs: dict[uuid.UUID, str] = {}
    for spotify_id in (*catalog.campaign_track_ids, other):  # three of the label's artist, one of another
        songs[await create_track(db, org.id, artist="A", spotify_id=spotify_id)] = spotify_id
    await create_track(db, org.id, title="Unreleased", artist="A")  # no Spotify id
    tokens = await pkce_login(http)  # the label user
    assert tokens.refresh_token is not None
    integration = await integration_store.upsert_integration(
        db, keys.token_encryption_key, org_id=org.id, provider="spotify", external_account_id=catalog.label_user.id,
        display_name="Label", access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        token_expires_at=START + timedelta(seconds=tokens.expires_in), scopes=tokens.scope.split(), connected_by=None)
    lease = await claim_lease(db, f"spotify:{integration.id}")
    return World(sim, http, settings, keys, org.id, integration, tokens.refresh_token, songs, lease)


async def _run(db: Database, w: World, clock: trio.testing.MockClock, until: datetime, *,
               registry: Registry | None = None, interval: float = POLL_INTERVAL) -> bool:
    """Run one actor until ``until``; returns whether ``run`` returned by itself."""
    return await run_until(clock, _actor(db, w, registry or Registry(), interval).run, _at(until))


def _actor(db: Database, w: World, registry: Registry, interval: float = POLL_INTERVAL) -> SpotifyLabelActor:
    return SpotifyLabelActor(db, w.integration, w.http, Pacer(spotify_window), _providers(db, w).track_figures,
                             key=w.keys.token_encryption_key, registry=registry, lease=w.lease, interval=interval,
                             now=w.sim.clock.now)


def _providers(db: Database, w: World) -> SpotifyProviders:
    return SpotifyProviders(db, w.keys.token_encryption_key, w.settings.spotify, now=w.sim.clock.now)


async def _stored(db: Database, w: World) -> dict[str, figures.Figures]:
    """Today's (START's day) figures by Spotify id."""
    found: dict[str, figures.Figures] = {}
    for track_id, spotify_id in w.songs.items():
        [row] = await figures.figures_of(db, w.org_id, track_id)
        assert row.day == START.date()
        found[spotify_id] = row
    return found


def _calls(w: World, prefix: str) -> list[float]:
    return [r.sim_time for r in w.sim.log if r.path.startswith(prefix) and r.status == 200]


async def test_extended_mode_stores_the_catalogue_figures_and_replaces_them_each_poll_of_the_day(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mode="extended")
    registry = Registry()
    ended = await _run(db, w, mock_clock, START + timedelta(hours=13), registry=registry)
    assert not ended
    catalog = w.sim.world.catalog
    stored = await _stored(db, w)
    for spotify_id, row in stored.items():
        track = catalog.tracks[spotify_id]
        assert (row.popularity, row.artist_followers) == (track.popularity, catalog.artists[track.artist_id].followers)
    # Polls at 0 h, 6 h and 12 h: one call per track each, one per distinct first artist each.
    polls = sorted({int(t - START.timestamp()) // 3600 for t in _calls(w, "/v1/tracks/")})
    assert polls == [0, 6, 12] and len(_calls(w, "/v1/tracks/")) == 3 * len(w.songs)
    assert len(_calls(w, "/v1/artists/")) == 3 * 2
    # The same UTC day polled three times: still one row per track, the last observation's.
    assert all(START + timedelta(hours=12) <= row.observed_at < START + timedelta(hours=13) for row in stored.values())
    assert await db.fetchval("SELECT count(*) FROM track_figures") == len(w.songs)
    # The access token (one hour) had expired at 6 h and 12 h: refreshed, and never sent stale.
    assert len([r for r in w.sim.log if r.path == "/api/token" and r.status == 200]) == 3  # login + 2
    assert not [r for r in w.sim.log if r.path.startswith("/v1") and r.status == 401]
    detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail or {}
    assert detail["state"] == "waiting" and detail["consecutive_failures"] == 0 and detail["tracks"] == len(w.songs)
    assert detail["next_poll_at"] == (START + timedelta(hours=18)).isoformat()
    assert detail["last_success_at"] is not None and detail["last_error"] is None


async def test_development_mode_stores_null_never_zero(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path, mode="development")
    assert not await _run(db, w, mock_clock, START + timedelta(hours=1))
    stored = await _stored(db, w)
    assert [(row.popularity, row.artist_followers) for row in stored.values()] == [(None, None)] * len(w.songs)
    nulls = await db.fetchval("SELECT count(*) FROM track_figures WHERE popularity IS NULL"
                              " AND artist_followers IS NULL")
    assert nulls == len(w.songs)
    assert not [r for r in w.sim.log if "ids=" in r.path or "ids" in r.query]  # no batch endpoint


async def test_a_later_observation_of_the_day_replaces_an_earlier_one_and_never_the_reverse(
    db: Database, tmp_path: Path,
) -> None:
    w = await _world(db, tmp_path)
    track_id = next(iter(w.songs))
    noon, evening = START + timedelta(hours=12), START + timedelta(hours=20)
    assert await figures.record_figures(db, w.org_id, track_id, popularity=40, artist_followers=1000,
                                        observed_at=noon)
    assert await figures.record_figures(db, w.org_id, track_id, popularity=42, artist_followers=None,
                                        observed_at=evening)
    assert not await figures.record_figures(db, w.org_id, track_id, popularity=1, artist_followers=1,
                                            observed_at=noon + timedelta(hours=1))  # a slow, older poll
    tomorrow = START + timedelta(days=1, hours=1)
    assert await figures.record_figures(db, w.org_id, track_id, popularity=43, artist_followers=1001,
                                        observed_at=tomorrow)
    history = await figures.figures_of(db, w.org_id, track_id)
    assert [(f.day, f.popularity, f.artist_followers, f.observed_at) for f in history] == [
        (START.date(), 42, None, evening), (tomorrow.date(), 43, 1001, tomorrow)]
    assert [f.day for f in await figures.figures_of(db, w.org_id, track_id, since=tomorrow.date())] == [
        tomorrow.date()]
    stranger, _ = await create_owner(db, org_name="Other", name="Other")
    assert await figures.figures_of(db, stranger.id, track_id) == []
    assert not await figures.record_figures(db, stranger.id, track_id, popularity=1, artist_followers=1,
                                            observed_at=tomorrow + timedelta(hours=1))


async def test_a_restart_keeps_the_schedule(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path)
    await _run(db, w, mock_clock, START + timedelta(hours=2))
    await _run(db, w, mock_clock, START + timedelta(hours=7))  # a new actor: it waits until 6 h, not now
    polls = sorted({int(t - START.timestamp()) // 3600 for t in _calls(w, "/v1/tracks/")})
    assert polls == [0, 6]


async def test_a_revoked_refresh_token_needs_reauth_with_its_event(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path)
    # The refresh token is used elsewhere (rotated away): ours is dead once the access token expires.
    used = await w.http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": w.refresh_token,
                                                 "client_id": ClientApp().client_id})
    assert used.status_code == 200
    registry = Registry()
    assert await _run(db, w, mock_clock, START + timedelta(hours=13), registry=registry)
    detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail or {}
    assert detail["state"] == "needs_reauth" and "invalid_grant" in str(detail["last_error"])
    assert detail["last_success_at"] is not None  # the first poll, on the access token it still had
    row = await integration_store.get_integration(db, w.org_id, "spotify")
    assert row is not None and row.status == "needs_reauth"
    events = await db.fetch("SELECT type, payload FROM webhook_events WHERE organization_id = $1"
                            " AND type <> 'integration.connected'", w.org_id)
    assert [e["type"] for e in events] == ["integration.needs_reauth"]
    data = msgspec.json.decode(events[0]["payload"])["data"]
    assert data["integrationId"] == str(w.integration.id) and data["provider"] == "spotify"
    assert max(_calls(w, "/v1/")) < (START + timedelta(hours=1)).timestamp()  # nothing after the refusal


async def test_the_kind_runs_one_actor_per_connected_integration_named_after_it(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path)
    registry = Registry()
    kind = spotify_label_kind(db, w.keys, registry, lambda: httpx.AsyncClient(
        transport=httpx.ASGITransport(w.sim), base_url=URL), _providers(db, w).track_figures,
        pacer=Pacer(spotify_window), now=w.sim.clock.now)
    [account] = await kind.accounts()
    assert (kind.name, account.key, account.runnable) == ("spotify", str(w.integration.id), True)
    name = w.lease.name
    async with trio.open_nursery() as nursery:
        await nursery.start(kind.build(account, w.lease))
        await advance(mock_clock, _at(START + timedelta(minutes=5)), trio.Event())
        nursery.cancel_scope.cancel()
    detail = (registry.get(name) or pytest.fail("no status")).detail or {}
    assert detail["state"] == "waiting" and len(await _stored(db, w)) == len(w.songs)
    async with db.transaction() as tx:
        await integration_store.mark_needs_reauth(tx, w.org_id, w.integration.id, reason="test")
    assert [a.runnable for a in await kind.accounts()] == [False]


def _counted_calls(outcome: str) -> float:
    labels = {"provider": "spotify", "outcome": outcome}
    return REGISTRY.get_sample_value("songtrack_provider_calls_total", labels) or 0.0


def _refusals() -> float:
    labels = {"provider": "spotify", "domain": "spotify:app"}
    return REGISTRY.get_sample_value("songtrack_provider_refusals_total", labels) or 0.0


async def test_a_long_rate_limit_parks_then_the_cycle_goes_on_and_5xx_are_retried(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    storm = (START + timedelta(hours=6), START + timedelta(hours=9))  # a 3-hour block: past the park threshold
    w = await _world(db, tmp_path, faults=FaultConfig(storms=(storm,), error_rate=0.3))
    registry, seen = Registry(), set[str]()
    before = {outcome: _counted_calls(outcome) for outcome in ("ok", "rate_limited", "retryable")}
    refused = _refusals()

    async def watch() -> None:
        while True:
            await trio.sleep(60)
            detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail or {}
            seen.add(str(detail["state"]))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        assert not await _run(db, w, mock_clock, START + timedelta(hours=10), registry=registry)
        nursery.cancel_scope.cancel()
    calls = [r for r in w.sim.log if r.path.startswith("/v1")]
    inside = [r.status for r in calls if storm[0].timestamp() <= r.sim_time < storm[1].timestamp()]
    assert inside == [429]  # one refusal, then nothing until Retry-After ran out
    assert {500, 502, 503} & {r.status for r in calls}  # some failed, and were retried
    # The metrics count the same calls (docs/metrics.md): the refusal by its domain, the failures, the rest.
    counted = {outcome: _counted_calls(outcome) - n for outcome, n in before.items()}
    assert counted["rate_limited"] == 1 and _refusals() - refused == 1
    assert counted["retryable"] == sum(r.status >= 500 for r in calls)
    assert counted["ok"] == sum(r.status == 200 for r in calls)
    assert "parked" in seen
    stored = await _stored(db, w)
    assert all(row.observed_at >= storm[1] for row in stored.values())  # the 6 h cycle finished after the block
    assert all(row.popularity is not None for row in stored.values())


def _fenced(write: str) -> float:
    return REGISTRY.get_sample_value("songtrack_fenced_writes_total", {"write": write}) or 0.0


async def _lose_lease_at(db: Database, w: World, clock: trio.testing.MockClock, actor: SpotifyLabelActor,
                         lost: datetime, until: datetime) -> bool:
    """Run ``actor`` until ``until``, another engine process taking its lease over at ``lost``; returns whether
    ``run`` returned by itself."""
    ended = trio.Event()

    async def run() -> None:
        await actor.run()
        ended.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await advance(clock, _at(lost), ended)
        await take_over_lease(db, w.lease)
        await advance(clock, _at(until), ended)
        nursery.cancel_scope.cancel()
    return ended.is_set()


async def test_figures_polled_after_the_lease_was_taken_over_are_refused_and_the_actor_stops(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path)
    registry, refused = Registry(), _fenced("spotify_figures")
    actor = _actor(db, w, registry, interval=600)  # within the access token's hour: no refresh comes first
    assert await _lose_lease_at(db, w, mock_clock, actor, START + timedelta(minutes=5), START + timedelta(hours=1))
    stored = await _stored(db, w)
    assert all(row.observed_at < START + timedelta(minutes=5) for row in stored.values())  # the first poll's only
    assert _fenced("spotify_figures") - refused == 1  # the first write refused; the actor stopped there
    assert len(_calls(w, "/v1/tracks/")) == len(w.songs) + 1
    detail = (registry.get(w.lease.name) or pytest.fail("no status")).detail or {}
    assert detail["state"] == "stopped" and "lost to another engine process" in str(detail["last_error"])


async def test_a_refresh_due_under_a_lost_lease_is_not_made(
    db: Database, tmp_path: Path, mock_clock: trio.testing.MockClock,
) -> None:
    w = await _world(db, tmp_path)
    refused = _fenced("token_refresh")
    actor = _actor(db, w, Registry())
    assert await _lose_lease_at(db, w, mock_clock, actor, START + timedelta(hours=1), START + timedelta(hours=7))
    assert _fenced("token_refresh") - refused == 1
    # Spotify was not asked (its single-use refresh token stays good for the new holder), nothing was stored.
    assert len([r for r in w.sim.log if r.path == "/api/token"]) == 1  # the login
    tokens = await integration_store.get_tokens(db, w.keys.token_encryption_key, w.org_id, w.integration.id)
    assert tokens is not None and tokens.refresh_token == w.refresh_token
    assert all(row.observed_at < START + timedelta(hours=1) for row in (await _stored(db, w)).values())
