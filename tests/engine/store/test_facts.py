"""``engine.store.facts`` against a real PostgreSQL: upserts by natural key, the latest observation winning,
totals recomputed from facts (minor to major units, foreign currencies left out) and org-scoped reads.

Rules: each test gets a fresh migrated database from the ``db`` fixture; hypothesis examples make their
own campaign in it so they never see each other's facts; real time only; a ``fail_after`` on every test.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.messages import MetricSample
from engine.store import Database, facts, open_database
from engine.store.campaigns import get_campaign
from tests.helpers.factories import create_campaign, create_org

START, END = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 8, 31, tzinfo=UTC)
DAY0 = date(2024, 7, 28)
SEEN = datetime(2024, 7, 28, 12, tzinfo=UTC)


def _sample(org: uuid.UUID, campaign: uuid.UUID, metric: str = "spend_minor", value: int = 0, *, day: int = 0,
            source: str = "meta:1", seen: int = 0, currency: str | None = "USD") -> MetricSample:
    return MetricSample(organization_id=org, campaign_id=campaign, day=DAY0 - timedelta(days=day),
                        metric=metric, value=value, source=source,  # type: ignore[arg-type]
                        observed_at=SEEN + timedelta(seconds=seen),
                        currency=currency if metric == "spend_minor" else None)


async def _write(db: Database, samples: Sequence[MetricSample]) -> list[facts.CampaignTotals]:
    async with db.transaction() as tx:
        return await facts.recompute_totals(tx, await facts.upsert_samples(tx, samples))


async def test_repoll_replaces_and_sources_add(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, start=START, end=END)
        await _write(db, [_sample(org, c, value=1000), _sample(org, c, "clicks", 5)])
        [totals] = await _write(db, [_sample(org, c, value=1500, seen=60),
                                     _sample(org, c, value=250, source="import:x", seen=60),
                                     _sample(org, c, "clicks", 7, seen=60)])
        assert (totals.budget_spent, totals.clicks, totals.changed) == (Decimal("17.50"), 7, True)
        campaign = await get_campaign(db, org, c)
        assert campaign is not None and campaign.budget_spent == 17.5 and campaign.metrics.clicks == 7


async def test_an_older_observation_never_overwrites_a_newer_one(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, start=START, end=END)
        await _write(db, [_sample(org, c, value=900, seen=100)])
        assert await _write(db, [_sample(org, c, value=100, seen=50)]) == []  # nothing changed: untouched
        [totals] = await _write(db, [_sample(org, c, value=800, seen=100)])  # same instant: the later wins
        assert totals.budget_spent == Decimal("8.00")


async def test_zero_decimal_currency_and_foreign_spend(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, currency="JPY", start=START, end=END)
        [totals] = await _write(db, [_sample(org, c, value=3000, currency="jpy"),
                                     _sample(org, c, value=999, source="meta:2", currency="USD")])
        assert (totals.budget_spent, totals.currency, totals.foreign_currencies) == (Decimal(3000), "JPY", ["USD"])


async def test_samples_of_another_organization_or_a_missing_campaign_are_skipped(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await create_org(db), await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, start=START, end=END)
        assert await _write(db, [_sample(other, c, value=5), _sample(org, uuid.uuid4(), value=5)]) == []
        assert await db.fetchval("SELECT count(*) FROM campaign_daily_facts") == 0


async def test_daily_facts_are_org_scoped_and_summed_over_sources(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await create_org(db), await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, start=START, end=END)
        await _write(db, [_sample(org, c, "streams", 3, source="listener:a"),
                          _sample(org, c, "streams", 4, source="listener:b"),
                          _sample(org, c, "streams", 1, day=1)])
        rows = await facts.daily_facts(db, org, c, metrics=["streams"])
        assert [(r.day, r.value) for r in rows] == [(DAY0 - timedelta(days=1), 1), (DAY0, 7)]
        assert await facts.daily_facts(db, other, c) == []
        assert len(await facts.daily_facts(db, org, c, since=DAY0)) == 1


_key = st.tuples(
    st.integers(0, 27),  # the day restated, up to 28 days back
    st.sampled_from(["spend_minor", "impressions", "clicks", "streams"]),
    st.sampled_from(["meta:1", "listener:a", "import:x"]),
)


@st.composite
def _restatements(draw: st.DrawFn) -> list[tuple[int, str, str, int, int]]:
    """Observations of a few keys, so most are re-polls or restatements of a key seen before, with
    observed_at (in minutes) out of order and tied."""
    keys = draw(st.lists(_key, min_size=1, max_size=6, unique=True))
    picks = st.tuples(st.sampled_from(keys), st.integers(0, 10**9), st.integers(0, 5))
    return [(d, m, s, v, t) for (d, m, s), v, t in draw(st.lists(picks, min_size=1, max_size=40))]


Observation = tuple[int, str, str, int, int]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(observations=_restatements(), cuts=st.lists(st.integers(1, 40), max_size=40))
def test_restatements_never_double_count(property_dsn: str, observations: list[Observation],
                                         cuts: list[int]) -> None:
    """Re-polls and restatements in any order and any batching: totals are the sum of the latest value
    per (day, metric, source), the later write winning a tie. (A sync test: hypothesis runs each example
    in its own ``trio.run``, so each opens its own connection.)"""
    latest: dict[tuple[int, str, str], tuple[int, int]] = {}
    for d, m, s, v, t in observations:
        if (d, m, s) not in latest or latest[(d, m, s)][0] <= t:
            latest[(d, m, s)] = (t, v)
    expected = {m: sum(v for (_, mm, _), (_, v) in latest.items() if mm == m)
                for m in ("spend_minor", "impressions", "clicks", "streams")}
    totals = trio.run(_replay, property_dsn, observations, cuts)
    assert totals.budget_spent == Decimal(expected["spend_minor"]) / 100
    assert (totals.impressions, totals.clicks, totals.streams) == (
        expected["impressions"], expected["clicks"], expected["streams"])


async def _replay(dsn: str, observations: list[Observation], cuts: list[int]) -> facts.CampaignTotals:
    with trio.fail_after(30):
        async with open_database(dsn, max_size=1) as db:
            org = await create_org(db)
            c = await create_campaign(db, org, budget=1000.0, start=START, end=END)
            samples = [_sample(org, c, m, v, day=d, source=s, seen=60 * t) for d, m, s, v, t in observations]
            bounds = sorted({0, len(samples), *(cut for cut in cuts if cut < len(samples))})
            for lo, hi in itertools.pairwise(bounds):
                await _write(db, samples[lo:hi])
            [totals] = await _recompute(db, c)
            return totals


async def _recompute(db: Database, campaign_id: uuid.UUID) -> list[facts.CampaignTotals]:
    async with db.transaction() as tx:
        return await facts.recompute_totals(tx, [campaign_id])


@pytest.mark.parametrize("currency", ["USD", "EUR"])
async def test_totals_of_a_campaign_without_facts_are_zero(db: Database, currency: str) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        c = await create_campaign(db, org, budget=1000.0, currency=currency, start=START, end=END)
        [totals] = await _recompute(db, c)
        assert (totals.budget_spent, totals.impressions, totals.changed, totals.goals) == (Decimal(0), 0, False, {})
