"""``actors.sandbox_streams``: the seeded listen model, and the actor against a real PostgreSQL.

Rules: the model is tested pure (hypothesis over seeds and rates, with bounds many standard deviations
wide, so a failure means a bug and not bad luck). The actor runs on the real clock for about 1.5 s,
because it shares the database (never combined with MockClock); its tracks come from campaigns made
through the store.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.sandbox_streams import SandboxStreams, Timeline, listens
from engine.store import Database, campaigns, tracks
from engine.store.stream_events import events_after


def _first(seed: int | str, rate: float, n: int) -> list[tuple[float, str, str]]:
    return [tuple(listen) for listen in itertools.islice(listens(seed, rate), n)]  # type: ignore[misc]


@given(seed=st.integers(), rate=st.floats(0.01, 1000))
def test_the_same_seed_gives_the_same_listens(seed: int, rate: float) -> None:
    assert _first(seed, rate, 50) == _first(seed, rate, 50)
    assert _first(seed, rate, 50) != _first(seed + 1, rate, 50)


@given(seed=st.integers(0, 2**32), rate=st.floats(0.05, 1000))
def test_the_mean_rate_is_the_rate(seed: int, rate: float) -> None:
    # About 2000 expected listens: a Poisson count within 6 standard deviations (p < 1e-8 per example).
    window = 2000 / rate
    count = len(Timeline(seed, rate).until(window))
    assert abs(count - 2000) < 6 * math.sqrt(2000)


def test_listens_look_like_a_label_audience() -> None:
    sample = list(itertools.islice(listens(7, 10.0), 20_000))
    countries = Counter(listen.country for listen in sample)
    platforms = Counter(listen.platform for listen in sample)
    assert countries.most_common(1)[0][0] == "US" and {"GB", "SE", "DE", "BR", "MX"} <= set(countries)
    assert set(platforms) == {"spotify", "apple_music", "youtube"}
    assert platforms["spotify"] > 0.7 * len(sample)
    assert all(listen.gap >= 0 for listen in sample)


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        next(listens(1, 0.0))


def test_a_timeline_hands_out_each_listen_once_in_order() -> None:
    timeline = Timeline("s", 50.0, start=10.0)
    assert timeline.until(10.0) == []
    first, second = timeline.until(11.0), timeline.until(12.0)
    offsets = [at for at, _ in first + second]
    assert offsets == sorted(offsets) and offsets[0] >= 10 and offsets[-1] < 12
    assert all(at < 11 for at, _ in first) and all(at >= 11 for at, _ in second)


async def _org(db: Database, name: str) -> uuid.UUID:
    org = await db.fetchval("INSERT INTO organizations (name) VALUES ($1) RETURNING id", name)
    assert isinstance(org, uuid.UUID)
    return org


async def _track(db: Database, org: uuid.UUID, *, campaign: str | None) -> uuid.UUID:
    """A track, promoted by a campaign in status ``campaign`` (none: not promoted)."""
    track = (await tracks.create_track(db, org, tracks.NewTrack(title="Song", artist="Band"))).id
    if campaign is not None:
        now = datetime.now(UTC)
        made = await campaigns.create_campaign(db, org, campaigns.NewCampaign(
            name="c", objective="streams", budget=100, currency="USD", track_id=track,
            start_date=now, end_date=now + timedelta(days=1)))
        if campaign != "draft":
            await campaigns.set_campaign_status(db, org, made.id, expected_from=("draft",), to=campaign)
    return track


async def test_the_actor_stores_listens_of_promoted_tracks_only(db: Database) -> None:
    demo, other = await _org(db, "Demo Records"), await _org(db, "Other")
    promoted = await _track(db, demo, campaign="active")
    drafted, idle = await _track(db, demo, campaign="draft"), await _track(db, demo, campaign=None)
    theirs = await _track(db, other, campaign="active")
    started = datetime.now(UTC)
    with trio.fail_after(10):
        with trio.move_on_after(1.6):
            await SandboxStreams(db, demo, rate=200, seed=1).run()
    events = await events_after(db, promoted, 0, limit=10_000)
    assert 100 < len(events) < 500  # one whole second of listens at 200 a second, maybe two
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # (A millisecond of slack: occurred_at is placed by trio's clock, received_at read off the wall clock.)
    assert all(started <= e.occurred_at <= e.received_at + timedelta(milliseconds=1) for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    for track in (drafted, idle, theirs):
        assert await events_after(db, track, 0, limit=1) == []


async def test_a_restart_never_reuses_an_event_id(db: Database) -> None:
    demo = await _org(db, "Demo Records")
    promoted = await _track(db, demo, campaign="active")
    with trio.fail_after(10):
        for _ in range(2):  # the same seed replays the same listens: only the ids' prefix tells them apart
            with trio.move_on_after(1.2):
                await SandboxStreams(db, demo, rate=100, seed=1).run()
    stored = await db.fetchval("SELECT count(*) FROM stream_events WHERE track_id = $1", promoted)
    events = await events_after(db, promoted, 0, limit=10_000)
    # About 100 listens a run; had the second run's ids collided with the first's, it would store none.
    assert stored == len(events) > 150 and events[-1].seq == len(events)


async def test_a_campaign_started_later_is_picked_up_at_the_next_read(db: Database) -> None:
    demo = await _org(db, "Demo Records")
    async with trio.open_nursery() as nursery:
        await nursery.start(SandboxStreams(db, demo, rate=100, seed=1, refresh=1.0).run)
        track = await _track(db, demo, campaign="active")
        with trio.fail_after(10):
            while True:  # the database is polled: its NOTIFY is for the WebSocket side, not for us
                if await events_after(db, track, 0, limit=1):
                    break
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
