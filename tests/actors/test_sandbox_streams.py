"""``actors.sandbox_streams``: the seeded listen model, and the actor against a real PostgreSQL.

Rules: the model is tested pure (hypothesis over seeds and rates, with bounds many standard deviations
wide, so a failure means a bug and not bad luck). The actor runs on trio's real clock for a few seconds,
because it shares the database (never combined with MockClock), and on a wall clock of ours that starts
where the test needs it (a fixed day, never today: a test must not depend on the hour it runs at) and
moves with trio's clock, or faster. Its tracks come from campaigns made through the store. We check
what is stored against the pure timeline (``day_timeline``), never by mocking the actor's calls.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.sandbox_streams import CHUNK, SandboxStreams, Timeline, day_timeline, event_id, listens
from engine.store import Database, campaigns
from engine.store.live_feed import events_after
from tests.helpers.factories import create_campaign, create_org, create_track


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


def test_a_timeline_hands_out_at_most_limit_listens_at_a_time() -> None:
    whole, parts = Timeline("s", 50.0).until(10.0), Timeline("s", 50.0)
    taken = [parts.until(10.0, limit=7) for _ in range(len(whole) // 7 + 2)]
    assert all(len(part) <= 7 for part in taken) and [x for part in taken for x in part] == whole


def test_a_day_timeline_is_the_same_for_the_same_track_and_day_only() -> None:
    track, other, day = uuid.uuid4(), uuid.uuid4(), date(2026, 3, 10)
    assert day_timeline(1, track, day, 1.0).until(600) == day_timeline(1, track, day, 1.0).until(600)
    for changed in (day_timeline(2, track, day, 1.0), day_timeline(1, other, day, 1.0),
                    day_timeline(1, track, day + timedelta(days=1), 1.0)):
        assert changed.until(600) != day_timeline(1, track, day, 1.0).until(600)
    assert event_id(track, day, 3) == f"sandbox-{track}-20260310-3" != event_id(other, day, 3)


def test_a_timeline_hands_out_each_listen_once_in_order() -> None:
    timeline = Timeline("s", 50.0, start=10.0)
    assert timeline.until(10.0) == []
    first, second = timeline.until(11.0), timeline.until(12.0)
    offsets = [at for at, _ in first + second]
    assert offsets == sorted(offsets) and offsets[0] >= 10 and offsets[-1] < 12
    assert all(at < 11 for at, _ in first) and all(at >= 11 for at, _ in second)


DAY = date(2026, 3, 10)
MIDNIGHT = datetime.combine(DAY, time(), UTC)


def _wall(at: datetime, speed: float = 1.0) -> Callable[[], datetime]:
    """A wall clock showing ``at`` now and moving ``speed`` times as fast as trio's clock."""
    origin = trio.current_time()
    return lambda: at + timedelta(seconds=speed * (trio.current_time() - origin))


async def _promoted_track(db: Database, org: uuid.UUID, *, campaign: str | None) -> uuid.UUID:
    """A track, promoted by a campaign in status ``campaign`` (none: not promoted)."""
    track = await create_track(db, org)
    if campaign is not None:
        made = await create_campaign(db, org, name="c", track_id=track, start=MIDNIGHT,
                                     end=MIDNIGHT + timedelta(days=1))
        if campaign != "draft":
            await campaigns.set_campaign_status(db, org, made, expected_from=("draft",), to=campaign)
    return track


async def _run(db: Database, org: uuid.UUID, seconds: float, *, rate: float, wall: Callable[[], datetime],
               refresh: float = 60.0) -> None:
    with trio.fail_after(seconds + 30):
        with trio.move_on_after(seconds):
            await SandboxStreams(db, org, rate=rate, seed=1, refresh=refresh, wall=wall).run()


async def _stored(db: Database, track: uuid.UUID, day: date) -> list[tuple[str, datetime, datetime]]:
    """The track's stored events of the UTC ``day`` (id, occurred_at, received_at), by occurred_at."""
    rows = await db.fetch(
        "SELECT event_id, occurred_at, received_at FROM stream_events WHERE track_id = $1"
        " AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at, event_id",
        track, datetime.combine(day, time(), UTC), datetime.combine(day + timedelta(days=1), time(), UTC))
    return [(row["event_id"], row["occurred_at"], row["received_at"]) for row in rows]


def _is_the_timeline_s_start(stored: list[tuple[str, datetime, datetime]], track: uuid.UUID, day: date,
                             rate: float) -> bool:
    """Whether ``stored`` is exactly the first listens of the track's timeline of ``day``, with their ids."""
    midnight = datetime.combine(day, time(), UTC)
    expected = day_timeline(1, track, day, rate).until(86_400, limit=len(stored))
    return [(event, at) for event, at, _ in stored] == [
        (event_id(track, day, n), midnight + timedelta(seconds=offset)) for n, (offset, _) in enumerate(expected, 1)]


async def test_the_actor_stores_listens_of_promoted_tracks_only(db: Database) -> None:
    demo, other = await create_org(db, "Demo Records"), await create_org(db, "Other")
    promoted = await _promoted_track(db, demo, campaign="active")
    drafted, idle = await _promoted_track(db, demo, campaign="draft"), await _promoted_track(db, demo, campaign=None)
    theirs = await _promoted_track(db, other, campaign="active")
    await _run(db, demo, 1.6, rate=200, wall=_wall(MIDNIGHT))  # at midnight: nothing to backfill
    events = await events_after(db, promoted, 0, limit=10_000)
    assert 100 < len(events) < 500  # one whole second of listens at 200 a second, maybe two
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(MIDNIGHT <= e.occurred_at <= e.received_at for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    for track in (drafted, idle, theirs):
        assert await events_after(db, track, 0, limit=1) == []


async def test_the_start_backfills_the_day_from_midnight(db: Database) -> None:
    demo = await create_org(db, "Demo Records")
    track = await _promoted_track(db, demo, campaign="active")
    started = MIDNIGHT + timedelta(hours=1)
    await _run(db, demo, 1.5, rate=0.5, wall=_wall(started))
    stored = await _stored(db, track, DAY)
    before = len(day_timeline(1, track, DAY, 0.5).until(3600))  # about 1,800
    assert len(stored) >= before and sum(at < started for _, at, _ in stored) == before
    assert _is_the_timeline_s_start(stored, track, DAY, 0.5)
    assert await db.fetchval("SELECT count(*) FROM stream_events WHERE track_id = $1", track) == len(stored)


async def test_a_restart_on_the_same_day_stores_nothing_twice(db: Database) -> None:
    demo = await create_org(db, "Demo Records")
    track = await _promoted_track(db, demo, campaign="active")
    await _run(db, demo, 1.2, rate=2, wall=_wall(MIDNIGHT + timedelta(minutes=5)))
    first = len(await _stored(db, track, DAY))  # about 600 listens
    # The second run replays the day from midnight: the same ids, so ``ingest`` takes them as duplicates.
    await _run(db, demo, 1.2, rate=2, wall=_wall(MIDNIGHT + timedelta(minutes=5, seconds=3)))
    stored = await _stored(db, track, DAY)
    assert len(stored) >= len(day_timeline(1, track, DAY, 2).until(303)) and len(stored) < first + 20
    assert _is_the_timeline_s_start(stored, track, DAY, 2)
    events = await events_after(db, track, 0, limit=10_000)
    assert len(events) == len(stored) and events[-1].seq == len(events)


async def test_a_day_change_finishes_the_old_day_and_goes_on_with_the_new_one(db: Database) -> None:
    demo = await create_org(db, "Demo Records")
    track = await _promoted_track(db, demo, campaign="active")
    # Two minutes before midnight, the wall clock 600 times as fast: midnight passes before the first tick.
    await _run(db, demo, 3.0, rate=0.05, wall=_wall(MIDNIGHT + timedelta(days=1, minutes=-2), speed=600))
    old, new = await _stored(db, track, DAY), await _stored(db, track, DAY + timedelta(days=1))
    assert len(old) == len(day_timeline(1, track, DAY, 0.05).until(86_400))  # the whole day, about 4,320
    assert _is_the_timeline_s_start(old, track, DAY, 0.05)
    # The tick 2 s in saw the wall at 00:18: at least the new day's first 10 minutes are stored.
    assert len(new) >= len(day_timeline(1, track, DAY + timedelta(days=1), 0.05).until(600)) > 0
    assert _is_the_timeline_s_start(new, track, DAY + timedelta(days=1), 0.05)


async def test_no_ingest_stores_more_than_a_chunk(db: Database) -> None:
    demo = await create_org(db, "Demo Records")
    track = await _promoted_track(db, demo, campaign="active")
    await _run(db, demo, 1.5, rate=2, wall=_wall(MIDNIGHT + timedelta(hours=1)))  # about 7,200 to backfill
    # One ingest call is one transaction with one ``received_at`` (our wall clock moves between calls).
    per_call = await db.fetch("SELECT received_at, count(*) AS n FROM stream_events WHERE track_id = $1"
                              " GROUP BY received_at", track)
    assert sum(row["n"] for row in per_call) >= 7000 and len(per_call) >= 4
    assert max(row["n"] for row in per_call) <= CHUNK


async def test_a_campaign_started_later_is_picked_up_at_the_next_read(db: Database) -> None:
    demo = await create_org(db, "Demo Records")
    async with trio.open_nursery() as nursery:
        streams = SandboxStreams(db, demo, rate=100, seed=1, refresh=1.0, wall=_wall(MIDNIGHT))
        await nursery.start(streams.run)
        track = await _promoted_track(db, demo, campaign="active")
        with trio.fail_after(10):
            while True:  # the database is polled: its NOTIFY is for the WebSocket side, not for us
                if await events_after(db, track, 0, limit=1):
                    break
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    # Picked up later, the track's day still starts at midnight: its first listens are the timeline's.
    assert _is_the_timeline_s_start(await _stored(db, track, DAY), track, DAY, 100)
