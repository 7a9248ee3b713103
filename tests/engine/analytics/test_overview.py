"""The overview's incremental streams and cost per incremental stream against a real PostgreSQL, and the
pure sum (``engine.analytics.incremental``) over generated campaigns.

Rules: each database test gets a fresh migrated database (``db``) and real time only; ``now`` is passed
in: 2027-01-15 08:00 UTC, a third of the day gone. The period is 2027-01-05 to 2027-01-15, the previous one
2026-12-25 to 2027-01-04. Stream days are stored as an imported stream report stores them, spend as the
aggregator stores Meta's facts. Expectations are worked out by hand from the definition in
docs/analytics.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import trio
from hypothesis import given
from hypothesis import strategies as st

from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.analytics.incremental import AttributedCampaign, TrackStreams, period_increment
from engine.analytics.model import Period
from engine.analytics.overview import overview
from engine.messages import MetricSample
from engine.store import Database, facts, imports
from tests.helpers.factories import create_campaign, create_org, create_track

NOW = datetime(2027, 1, 15, 8, tzinfo=UTC)
START = date(2027, 1, 5)
PERIOD = Period(start=START, end=date(2027, 1, 15))
RULES = AnalyticsRules()  # 28 baseline days, at least 7 observed
RULE = RULES.rule()
THIRD = 10 + 1 / 3  # campaign days elapsed from START to NOW


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def _track(db: Database, org: uuid.UUID, *, baseline: int | None, during: int, first: date = START,
                 days: int = 10) -> uuid.UUID:
    """A track with ``baseline`` streams a day for the 28 days before ``first`` (None: no data before it),
    then ``during`` a day for ``days`` days."""
    track = await create_track(db, org, title=f"t{uuid.uuid4().hex[:6]}")
    rows = [] if baseline is None else [
        imports.TrackDay(track_id=track, day=first - timedelta(days=n), streams=baseline) for n in range(1, 29)]
    rows += [imports.TrackDay(track_id=track, day=first + timedelta(days=n), streams=during) for n in range(days)]
    await imports.upsert_track_days(db, org, None, "s4a", rows)
    return track


async def _campaign(db: Database, org: uuid.UUID, track: uuid.UUID | None, *, currency: str = "USD",
                    first: date = START, last: date = date(2027, 1, 20), spend_minor: int = 1000,
                    days: int = 10, spend_currency: str | None = None) -> uuid.UUID:
    """A campaign over ``first``..``last`` (UTC days) that spent ``spend_minor`` a day for ``days`` days."""
    campaign = await create_campaign(db, org, currency=currency, track_id=track, start=_midnight(first),
                                     end=_midnight(last) + timedelta(hours=23, minutes=59), status="active")
    await facts.upsert_samples(db, [MetricSample(
        organization_id=org, campaign_id=campaign, day=first + timedelta(days=n), metric="spend_minor",
        value=spend_minor, source="meta:1", observed_at=NOW, currency=spend_currency or currency)
        for n in range(days)])
    return campaign


async def test_a_lift_over_a_flat_baseline_gives_the_campaign_s_own_incremental_streams_and_cost(
        db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        track = await _track(db, org, baseline=100, during=150)
        await imports.upsert_track_days(db, org, None, "s4a", [imports.TrackDay(track_id=track, day=PERIOD.end,
                                                                                 streams=60)])
        campaign = await _campaign(db, org, track)
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
        page = await campaign_analytics(db, org, campaign, start=PERIOD.start, end=PERIOD.end, granularity="day",
                                        rules=RULES, now=NOW)
    incremental = body.incremental_streams
    assert incremental.current == round(10 * 150 + 60 - 100 * THIRD) == 527
    assert page is not None and page.attribution.incremental_streams == incremental.current
    assert (incremental.campaigns, incremental.campaigns_left_out, incremental.previous) == (1, 0, 0)
    [usd] = body.cost_per_incremental_stream
    assert (usd.currency, usd.spend, usd.incremental_streams) == ("USD", 100, 527)
    assert usd.current == Decimal("0.189753") == page.summary.cost_per_incremental_stream  # 100 / 527
    assert (usd.previous, usd.change, usd.trend) == (None, None, None)


async def test_a_campaign_without_a_baseline_is_left_out_and_counted(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        await _campaign(db, org, await _track(db, org, baseline=100, during=150))
        await _campaign(db, org, await _track(db, org, baseline=None, during=500), spend_minor=9000)
        await _campaign(db, org, None, spend_minor=7000)  # no track: no streams, not counted either way
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
    incremental = body.incremental_streams
    assert (incremental.current, incremental.campaigns, incremental.campaigns_left_out) == (
        round(1500 - 100 * THIRD), 1, 1)
    [usd] = body.cost_per_incremental_stream
    assert usd.spend == 100  # the left-out campaigns' spend is not in the cost
    assert [s.current for s in body.spend] == [100 + 900 + 700]  # but it is in the organization's spend


async def test_two_currencies_stay_apart(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        await _campaign(db, org, await _track(db, org, baseline=100, during=150))
        eur = await _campaign(db, org, await _track(db, org, baseline=50, during=70), currency="EUR", spend_minor=500)
        # Meta reported some of the EUR campaign's spend in dollars: not the campaign's currency, not its cost.
        await facts.upsert_samples(db, [MetricSample(
            organization_id=org, campaign_id=eur, day=START, metric="spend_minor", value=99_900, source="meta:2",
            observed_at=NOW, currency="USD")])
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
    usd_streams, eur_streams = round(1500 - 100 * THIRD), round(700 - 50 * THIRD)
    assert body.incremental_streams.current == usd_streams + eur_streams == 467 + 183
    assert [(c.currency, c.spend, c.incremental_streams) for c in body.cost_per_incremental_stream] == [
        ("EUR", 50, eur_streams), ("USD", 100, usd_streams)]
    assert [c.current for c in body.cost_per_incremental_stream] == [Decimal("0.273224"), Decimal("0.214133")]


async def test_the_previous_period_counts_the_campaigns_that_ran_then(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        await _campaign(db, org, await _track(db, org, baseline=100, during=150))
        earlier = date(2026, 12, 26)  # to 2027-01-02: wholly in the previous period, 8 days
        await _campaign(db, org, await _track(db, org, baseline=20, during=40, first=earlier, days=8),
                        first=earlier, last=date(2027, 1, 2), spend_minor=800, days=8)
        # A campaign that lost streams: its incremental streams are negative and reported as they are.
        await _campaign(db, org, await _track(db, org, baseline=30, during=20, first=earlier, days=8),
                        first=earlier, last=date(2027, 1, 2), spend_minor=100, days=8)
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
    incremental = body.incremental_streams
    assert (incremental.previous, incremental.previous_campaigns, incremental.previous_campaigns_left_out) == (
        8 * (40 - 20) + 8 * (20 - 30), 2, 0)
    assert (incremental.current, incremental.campaigns, incremental.trend) == (467, 1, "up")
    [usd] = body.cost_per_incremental_stream
    assert (usd.previous_spend, usd.previous_incremental_streams, usd.previous) == (72, 80, Decimal("0.9"))
    assert usd.current == Decimal("0.214133")  # 100 / 467
    assert usd.change == usd.current - usd.previous and usd.trend == "down"


async def test_a_period_with_no_lift_has_no_cost(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        await _campaign(db, org, await _track(db, org, baseline=100, during=50))
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
    [usd] = body.cost_per_incremental_stream
    assert body.incremental_streams.current == round(500 - 100 * THIRD) < 0
    assert (usd.spend, usd.current, usd.change_percent) == (100, None, None)


# ---- the pure sum -------------------------------------------------------------------------------------

TODAY = date(2027, 3, 1)


@st.composite
def _flat_world(draw: st.DrawFn) -> tuple[list[AttributedCampaign], dict[uuid.UUID, TrackStreams], Period]:
    """Tracks streaming a constant number a day from their first data day to yesterday (no data today, and
    ``now`` is today's midnight), campaigns of them anywhere around a period that may reach past today."""
    tracks: dict[uuid.UUID, TrackStreams] = {}
    for _ in range(draw(st.integers(1, 3))):
        first, daily = TODAY - timedelta(days=draw(st.integers(1, 120))), draw(st.integers(0, 10_000))
        every_day = {first + timedelta(days=n): daily for n in range((TODAY - first).days)}
        tracks[uuid.uuid4()] = TrackStreams(days=every_day, first_day=first)
    campaigns = []
    for _ in range(draw(st.integers(0, 6))):
        start = _midnight(TODAY - timedelta(days=draw(st.integers(-5, 90)))) + timedelta(hours=draw(st.integers(0, 23)))
        campaigns.append(AttributedCampaign(
            id=uuid.uuid4(), currency=draw(st.sampled_from(["USD", "EUR", "JPY"])),
            track_id=draw(st.sampled_from(sorted(tracks))), start_date=start,
            end_date=start + timedelta(days=draw(st.integers(0, 60)), hours=draw(st.integers(1, 23)))))
    end = TODAY + timedelta(days=draw(st.integers(-40, 10)))
    return campaigns, tracks, Period(start=end - timedelta(days=draw(st.integers(0, 60))), end=end)


@given(world=_flat_world(), spend=st.integers(0, 10**6))
def test_without_a_lift_the_incremental_streams_sum_to_zero_and_every_overlapping_campaign_is_counted(
        world: tuple[list[AttributedCampaign], dict[uuid.UUID, TrackStreams], Period], spend: int) -> None:
    campaigns, tracks, period = world
    now = _midnight(TODAY)
    result = period_increment(campaigns, period, tracks, {c.id: spend for c in campaigns}, RULE, now)
    overlapping = [c for c in campaigns if c.start_date <= now
                   and max(c.start_date.date(), period.start) <= min(c.end_date.date(), period.end, TODAY)]
    # A campaign has a baseline when its track had data before the campaign's first day.
    with_baseline = [c for c in overlapping if (tracks[c.track_id].first_day or TODAY) < c.start_date.date()]
    assert result.incremental_streams == 0
    assert (result.campaigns, result.campaigns_left_out) == (len(with_baseline), len(overlapping) - len(with_baseline))
    assert all(c.incremental_streams == 0 for c in result.currencies.values())
    assert sum(c.spend_minor for c in result.currencies.values()) == spend * len(with_baseline)


async def test_a_draft_that_never_ran_is_not_counted(db: Database) -> None:
    with trio.fail_after(20):
        org = await create_org(db)
        track = await _track(db, org, baseline=100, during=150)
        await create_campaign(db, org, track_id=track, start=_midnight(START))  # a draft over the lift's days
        body = await overview(db, org, PERIOD, rule=RULE, now=NOW)
    incremental = body.incremental_streams
    assert (incremental.current, incremental.campaigns, incremental.campaigns_left_out) == (0, 0, 0)
    assert body.streams.current == 1500  # the track's streams still count as the organization's
