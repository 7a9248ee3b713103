"""``engine.store.stream_events`` against a real PostgreSQL: per-track seqs handed out once per new event,
re-sent ids stored and counted nowhere, rollups that match the raw events, and org scoping.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.store import Database, live_feed, open_database
from engine.store import stream_events as store
from engine.store.catalog_common import NotFound
from tests.helpers.factories import create_org, create_track

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _event(event_id: str, track: uuid.UUID, minute: float = 0, country: str = "US",
           platform: str = "spotify") -> store.NewEvent:
    return store.NewEvent(event_id=event_id, track_id=track, platform=platform, country=country,
                          occurred_at=T0 + timedelta(minutes=minute))


async def test_seqs_follow_event_time_and_a_resent_id_is_a_no_op(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    first = await store.ingest(db, org, [_event("b", track, 2), _event("a", track, 1), _event("a", track, 9)],
                               received_at=T0)
    assert (first.accepted, first.duplicates) == (2, 1)
    again = await store.ingest(db, org, [_event("a", track, 1), _event("c", track, 3)], received_at=T0)
    assert (again.accepted, again.duplicates) == (1, 1)
    events = await live_feed.events_after(db, track, 0, limit=10)
    assert [(e.seq, e.occurred_at.minute) for e in events] == [(1, 1), (2, 2), (3, 3)]
    head = (await live_feed.heads(db, [track]))[track]
    assert head.last_seq == 3 and len(head.epoch) == 12
    assert [e.seq for e in await live_feed.events_after(db, track, 2, limit=10)] == [3]
    counts = await live_feed.counts(db, [track], since=T0)
    assert counts == [live_feed.Counts(track_id=track, seq=3, streams=3, countries={"US": 3})]


async def test_a_track_of_another_organization_stores_nothing(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    theirs = await create_track(db, await create_org(db, "other"))
    with pytest.raises(NotFound):
        await store.ingest(db, org, [_event("a", track), _event("b", theirs)], received_at=T0)
    assert await live_feed.events_after(db, track, 0, limit=10) == []
    assert await store.known_tracks(db, org, [track, theirs]) == {track}


async def test_realtime_buckets_and_changed_days(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    batch = [_event(f"e{i}", track, minute=i * 4, country="SE" if i % 3 else "US") for i in range(20)]
    await store.ingest(db, org, batch, received_at=T0 + timedelta(hours=2))
    buckets = await store.realtime(db, track, width=timedelta(minutes=15), since=T0, until=T0 + timedelta(hours=1))
    assert [b.start for b in buckets] == [T0 + timedelta(minutes=15 * i) for i in range(4)]
    assert [b.streams for b in buckets] == [4, 4, 4, 3]
    assert sum(b.countries.get("US", 0) for b in buckets) == 5
    changed = await store.changed_days(db, since=T0 - timedelta(days=1))
    assert [(c.track_id, c.day, c.streams) for c in changed] == [(track, T0.date(), 20)]
    assert await store.changed_days(db, since=datetime.now(UTC) + timedelta(seconds=5)) == []


async def test_concurrent_batches_on_one_track_get_distinct_contiguous_seqs(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)

    async def send(prefix: str) -> None:
        for n in range(5):
            await store.ingest(db, org, [_event(f"{prefix}{n}-{k}", track, k) for k in range(7)], received_at=T0)

    async with trio.open_nursery() as nursery:
        for prefix in "abcd":
            nursery.start_soon(send, prefix)
    events = await live_feed.events_after(db, track, 0, limit=1000)
    assert [e.seq for e in events] == list(range(1, 141))


async def test_prune_keeps_recent_events_and_every_daily_total(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    await store.ingest(db, org, [_event("old", track)], received_at=T0)
    await store.ingest(db, org, [_event("new", track, 1)], received_at=T0 + store.HISTORY)
    removed = await store.prune(db, now=T0 + store.HISTORY + timedelta(minutes=1))
    assert removed == 2  # the old event, and the five-minute bucket of both (it is of their event time)
    assert [e.seq for e in await live_feed.events_after(db, track, 0, limit=10)] == [2]
    changed = await store.changed_days(db, since=T0 - timedelta(days=1))
    assert [c.streams for c in changed] == [2]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 200), st.sampled_from("US SE GB")),
                                 max_size=12), min_size=1, max_size=6))
def test_rollups_equal_the_distinct_events_however_they_are_resent(
        property_dsn: str, batches: list[list[tuple[int, int, str]]]) -> None:
    """Ids re-sent within and across batches: seqs stay contiguous and every bucket counts each id once.
    (Sync: hypothesis runs each example in its own ``trio.run``, with its own connection.)"""
    seen: dict[int, tuple[int, str]] = {}
    for batch in batches:
        for i, minute, country in batch:
            seen.setdefault(i, (minute, country))
    seqs, buckets = trio.run(_replay, property_dsn, batches)
    assert seqs == list(range(1, len(seen) + 1))
    assert sum(b.streams for b in buckets) == len(seen)
    for country in ("US", "SE", "GB"):
        assert sum(b.countries.get(country, 0) for b in buckets) == sum(1 for _, c in seen.values() if c == country)


async def _replay(dsn: str, batches: list[list[tuple[int, int, str]]]) -> tuple[list[int], list[store.Bucket]]:
    with trio.fail_after(30):
        async with open_database(dsn, max_size=1) as db:
            org = await create_org(db)
            track = await create_track(db, org)
            for batch in batches:
                await store.ingest(db, org, [_event(str(i), track, minute, country) for i, minute, country in batch],
                                   received_at=T0)
            events = await live_feed.events_after(db, track, 0, limit=1000)
            buckets = await store.realtime(db, track, width=timedelta(hours=1), since=T0,
                                           until=T0 + timedelta(hours=4))
            return [e.seq for e in events], buckets
