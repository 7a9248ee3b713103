"""Campaign analytics against the Meta simulator's ground truth (``World.truth``), over generated worlds.

Rules: nothing is mocked. Each example is its own ``trio.run`` on a ``MockClock`` that jumps after 100 ms
of real idleness (as in tests/actors/test_meta_account.py: a query waits on the asyncio thread), with the
real ``MetaAccountActor`` reaching a ``MetaSimulator`` through ``httpx.ASGITransport`` and the real
``Aggregator`` writing facts to the ``property_dsn`` database. A world is one ad account (a generated
currency, timezone, seed, start and restatement rate) and its campaigns, each linked to one of ours in
the account's currency. We poll from the simulator's start until the first 28-day sweep of the account's
next local day has been sent on, stop the actor, let the aggregator drain, and read ``campaign_analytics``
over the 28 local days before that day: every one of them complete and swept after its last restatement.
The expectations are computed here from ``World.truth`` and the generated stream days, never from the
code under test. The schedule is coarser than production's (3 h polls, 6 h sweeps) so that a simulated
day costs about a second.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import trio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from actors.aggregator import Aggregator
from actors.meta_account import MetaAccountActor
from actors.meta_schedule import MetaSchedule
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.meta.simulator import Account, DayMetrics, FaultConfig, MetaSimulator, SimClock, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from config.sections import AlertsSettings, MetaSettings
from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.analytics.model import CampaignAnalytics, Point
from engine.pacing import Pacer, RetryPolicy
from engine.registry import Registry
from engine.store import Database, open_database
from engine.store.campaign_meta import link_meta
from engine.store.imports import TrackDay, upsert_track_days
from engine.store.integrations import Integration
from tests.helpers.factories import claim_lease, connect_integration, create_campaign, create_org, create_track

TOKEN = "SIMULATOR_TOKEN"
KEY = os.urandom(32)
HOUR = 3600.0
DAY = timedelta(days=1)
SCHEDULE = MetaSchedule(interval=3 * HOUR, restatement_every=6 * HOUR)
PERIOD_DAYS = 28
EXAMPLES = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
Truths = dict[str, dict[date, DayMetrics]]  # Meta campaign id → local day → the truth
T = TypeVar("T")

# ---- the generated worlds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One of our campaigns: it starts at ``hour`` o'clock (the account's time) on the ``offset``-th day
    of the period and runs ``days`` days (past the end of the run when long)."""

    offset: int
    hour: int
    days: int


@dataclass(frozen=True)
class Spec:
    """A world: its account's profile, its simulated start (an aware local time), its campaigns."""

    seed: int
    currency: str
    timezone: str
    start: datetime
    rate: float
    campaigns: int = 2
    windows: tuple[Window, ...] = ()  # one per campaign, with a track: the stream properties
    streams: tuple[int, ...] = ()  # the track's UTC days from ``first_stream`` on, cycled
    first_stream: int = 0  # days before the period's first day
    foreign: bool = False  # link one more campaign of ours, in the other of USD and JPY


@dataclass
class Observed:
    """What a run left: the truth before and after, and the analytics of each linked campaign."""

    account: Account
    period: tuple[date, date]
    now: datetime
    before: Truths
    truth: Truths
    analytics: dict[str, CampaignAnalytics]  # Meta campaign id → ours
    foreign: CampaignAnalytics | None = None
    foreign_meta_id: str = ""
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # our start and end dates
    streams: dict[date, int] = field(default_factory=dict)


seeds = st.integers(0, 2**20)
rates = st.floats(0.3, 1.0)
# The simulator starts 1 to 12 h before local midnight: a shorter run, and the sweep after midnight is the
# first or second one.
start_hours = st.integers(12, 22)
minutes = st.integers(0, 59)


def local(day: date, hour: int, minute: int, timezone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(timezone))


def observe(dsn: str, spec: Spec) -> Observed:
    return trio.run(_observe, dsn, spec, clock=MockClock(autojump_threshold=0.1))


# ---- the run -----------------------------------------------------------------------------------------


class _Watch:
    """The simulator as the actor reaches it: ``swept`` is set once a 28-day insights call made on a later
    local day than ``first_day`` has been answered and the actor has moved on to its campaigns call (so
    every sample of that sweep is in the aggregator's inbox)."""

    def __init__(self, sim: MetaSimulator, account: Account, first_day: date) -> None:
        self._sim, self._account, self._first_day = sim, account, first_day
        self._sweeping = False
        self.swept = trio.Event()
        self.swept_on: date | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        count = len(self._sim.requests)
        await self._sim(scope, receive, send)
        for logged in self._sim.requests[count:]:
            day = self._sim.world.local_date(self._account, logged.at)
            if logged.path.endswith("/insights") and "time_range" in logged.params and day > self._first_day:
                since = date.fromisoformat(json.loads(logged.params["time_range"])["since"])
                self._sweeping = self._sweeping or since == day - timedelta(days=SCHEDULE.restatement_days)
            elif logged.path.endswith("/campaigns") and self._sweeping and not self.swept.is_set():
                self.swept_on = day
                self.swept.set()


def _simulator(spec: Spec) -> MetaSimulator:
    config = SimulatorConfig(seed=spec.seed, accounts=1, campaigns_per_account=spec.campaigns + spec.foreign,
                             start=spec.start.isoformat(), profiles=((spec.currency, spec.timezone),),
                             faults=FaultConfig(restatement_rate=spec.rate))
    return MetaSimulator(config, SimClock(parse_start(config.start), 1.0, trio.current_time))


def _wall(sim: MetaSimulator) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(sim.clock.now(), UTC)


def _truths(sim: MetaSimulator, meta_ids: list[str], first: date, last: date) -> Truths:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {meta_id: {day: sim.world.truth(meta_id, day)[()] for day in days} for meta_id in meta_ids}


async def _observe(dsn: str, spec: Spec) -> Observed:
    sim = _simulator(spec)
    (account,) = sim.world.accounts.values()
    meta_ids = sorted(sim.world.campaigns)
    async with open_database(dsn, max_size=4) as db:
        first_day = sim.world.local_date(account)
        org, integration = await _organization(db)
        period_start = first_day + DAY - timedelta(days=PERIOD_DAYS)
        ours, windows = await _link(db, org, sim, spec, meta_ids, period_start)
        before = _truths(sim, meta_ids, period_start, first_day - DAY)

        def at_stop() -> tuple[tuple[date, date], datetime, Truths]:
            today = sim.world.local_date(account)
            period = (today - timedelta(days=PERIOD_DAYS), today - DAY)
            return period, _wall(sim)(), _truths(sim, meta_ids, *period)

        watch = _Watch(sim, account, first_day)
        period, now, truth = await _poll_until(db, sim, integration, watch, at_stop)
        assert watch.swept_on == period[1] + DAY == first_day + DAY, "the clock jumped past a midnight"
        streams = await _store_streams(db, org, spec, ours, period[0], now)
        analytics = {meta_id: await _analytics(db, org, ours[meta_id], period, now) for meta_id in ours}
    foreign = analytics.pop(meta_ids[-1]) if spec.foreign else None
    return Observed(account=account, period=period, now=now, before=before, truth=truth, analytics=analytics,
                    foreign=foreign, foreign_meta_id=meta_ids[-1] if spec.foreign else "", windows=windows,
                    streams=streams)


async def _organization(db: Database) -> tuple[uuid.UUID, Integration]:
    org = await create_org(db)
    return org, await connect_integration(db, org, key=KEY, access_token=TOKEN, scopes=["ads_read"])


async def _link(db: Database, org: uuid.UUID, sim: MetaSimulator, spec: Spec, meta_ids: list[str],
                period_start: date) -> tuple[dict[str, uuid.UUID], dict[str, tuple[datetime, datetime]]]:
    """One active campaign of ours per simulator campaign, linked to it, in the account's currency (the
    last one in the other currency when ``spec.foreign``); with a track and ``spec.windows`` when given."""
    now = _wall(sim)()
    track = await create_track(db, org) if spec.windows else None
    ours: dict[str, uuid.UUID] = {}
    windows: dict[str, tuple[datetime, datetime]] = {}
    for index, meta_id in enumerate(meta_ids):
        campaign = sim.world.campaigns[meta_id]
        start, end = now - timedelta(days=60), now + timedelta(days=30)
        if index < len(spec.windows):
            window = spec.windows[index]
            start = local(period_start + timedelta(days=window.offset), window.hour, 0, spec.timezone)
            end = start + timedelta(days=window.days)
            windows[meta_id] = (start, end)
        currency = spec.currency if index < spec.campaigns else {"JPY": "USD"}.get(spec.currency, "JPY")
        created = await create_campaign(db, org, name=campaign.name, budget=1000.0, currency=currency, start=start,
                                        end=end, track_id=track, status="active")
        await link_meta(db, org, created, ad_account_id=f"act_{campaign.account_id}", meta_campaign_id=meta_id,
                        effective_status=None)
        ours[meta_id] = created
    return ours, windows


async def _poll_until(db: Database, sim: MetaSimulator, integration: Integration, watch: _Watch,
                      at_stop: Callable[[], T]) -> T:
    """Run the actor and the aggregator until ``watch.swept``, stop the actor, return ``at_stop()`` (called
    at that very moment: the drain may move the clock), and drain the aggregator.

    We wake at least every poll interval, on the actor's own ticks: a database call that idles past the
    autojump threshold then jumps the clock to the next poll at most, never to the ``fail_after``."""
    # Its sweep for ended campaigns is not under test here, and every wakeup costs 100 ms of real time.
    aggregator = Aggregator(db, AlertsSettings(), wall=_wall(sim), sweep_every=10 * 86400.0)
    samples = aggregator.sender()
    lease = await claim_lease(db, f"meta:{integration.id}")
    actor = MetaAccountActor(
        db, integration, key=KEY, lease=lease, registry=Registry(), samples=samples,
        pacer=Pacer(meta_window), schedule=SCHEDULE, retry=RetryPolicy(base=1.0, factor=2.0, cap=60.0),
        http_factory=lambda: httpx.AsyncClient(transport=httpx.ASGITransport(watch),
                                               base_url="https://graph.facebook.com"),
        provider=meta_ads(MetaSettings()), rng=random.Random(7), wall=_wall(sim))
    async with trio.open_nursery() as nursery:
        await nursery.start(aggregator.run)
        with trio.fail_after(48 * HOUR):
            async with trio.open_nursery() as polling:
                # start_soon, not start: waiting for "started" (its token read) would leave only the fail_after
                # as the next deadline, and a slow database would jump the clock to it.
                polling.start_soon(actor.run)
                tick = trio.current_time()
                while not watch.swept.is_set():
                    tick += SCHEDULE.interval
                    with trio.move_on_at(tick):
                        await watch.swept.wait()
                polling.cancel_scope.cancel()
                stopped = at_stop()
        samples.close()
        aggregator.stop()  # with the actor's clone closed, run returns once the inbox is drained
    return stopped


async def _store_streams(db: Database, org: uuid.UUID, spec: Spec, ours: dict[str, uuid.UUID], period_start: date,
                         now: datetime) -> dict[date, int]:
    """The track's generated UTC days, from ``spec.first_stream`` days before the period to today, as an
    import stores them."""
    if not spec.windows:
        return {}
    track = await db.fetchval("SELECT track_id FROM campaigns WHERE id = $1", next(iter(ours.values())))
    assert isinstance(track, uuid.UUID)
    first, today = period_start - timedelta(days=spec.first_stream), now.date()
    streams = {first + timedelta(days=n): spec.streams[n % len(spec.streams)] for n in range((today - first).days + 1)}
    await upsert_track_days(db, org, None, "s4a", [TrackDay(track_id=track, day=d, streams=v)
                                                   for d, v in streams.items()])
    return streams


async def _analytics(db: Database, org: uuid.UUID, campaign: uuid.UUID, period: tuple[date, date],
                     now: datetime) -> CampaignAnalytics:
    found = await campaign_analytics(db, org, campaign, start=period[0], end=period[1], granularity="day",
                                     rules=AnalyticsRules(), now=now)
    assert found is not None
    return found


# ---- what the truth says ---------------------------------------------------------------------------


def _days(period: tuple[date, date]) -> list[date]:
    return [period[0] + timedelta(days=n) for n in range((period[1] - period[0]).days + 1)]


def _own_streams(seen: Observed, meta_id: str, day: date) -> int:
    """The track's streams of ``day`` if it is one of the campaign's own UTC days; a day of the period
    around them (an ad account's timezone widens it) is the baseline's, not the campaign's."""
    window = seen.windows.get(meta_id)
    if window is None:  # the campaign has no track, so no streams
        return 0
    first_day, last_day = (moment.astimezone(UTC).date() for moment in window)
    return seen.streams.get(day, 0) if first_day <= day <= last_day else 0


def assert_ads_equal_the_truth(seen: Observed) -> None:
    """Totals and every daily point are the truth's, spend exact in major units; and the world did
    deliver and restate, so the run proves something."""
    offset = seen.account.offset
    restated = {(meta_id, day) for meta_id, days in seen.before.items() for day, metrics in days.items()
                if day >= seen.period[0] and seen.truth[meta_id][day] != metrics}
    assert restated, "no day of the period was restated during the run: the test proves nothing"
    for meta_id, analytics in seen.analytics.items():
        truth = seen.truth[meta_id]
        spend = sum(t.spend_minor for t in truth.values())
        assert spend > 0, "the campaign spent nothing: the test proves nothing"
        summary = analytics.summary
        assert (analytics.period.start, analytics.period.end) == seen.period
        assert summary.total_spend == Decimal(spend) / offset, (meta_id, summary.total_spend, spend)
        assert summary.total_impressions == sum(t.impressions for t in truth.values())
        assert summary.total_clicks == sum(t.clicks for t in truth.values())
        expected = [Point(date=day, spend=Decimal(truth[day].spend_minor) / offset, impressions=truth[day].impressions,
                          clicks=truth[day].clicks, streams=_own_streams(seen, meta_id, day))
                    for day in _days(seen.period)]
        assert analytics.daily == expected
        assert analytics.currency == seen.account.currency
        assert analytics.timezones.ads == seen.account.timezone_name


@dataclass(frozen=True)
class ExpectedAttribution:
    streams_during: int
    elapsed_days: float
    observed_days: int
    daily_mean: float | None
    incremental: int | None


def expected_attribution(streams: dict[date, int], first_stream: date, window: tuple[datetime, datetime],
                         period: tuple[date, date], now: datetime) -> ExpectedAttribution:
    """docs/analytics.md's model over UTC days: the campaign's days within the period, the days of them
    that have begun (today counts the fraction of it that has passed), and a baseline of the 28 UTC days
    before the campaign's first day, observed from the track's first stream day on."""
    first_day, last_day = window[0].astimezone(UTC).date(), window[1].astimezone(UTC).date()
    start, end = max(first_day, period[0]), min(last_day, period[1])
    today = now.astimezone(UTC).date()
    if start > end or start > today:
        begun, elapsed = [], 0.0
    elif end < today:
        begun, elapsed = _days((start, end)), float((end - start).days + 1)
    else:
        since_midnight = now - datetime.combine(today, time(), UTC)
        begun, elapsed = _days((start, today)), (today - start).days + since_midnight / DAY
    during = sum(streams.get(day, 0) for day in begun)
    baseline = [streams.get(day, 0) for day in _days((first_day - timedelta(days=28), first_day - DAY))
                if day >= first_stream]
    mean = sum(baseline) / len(baseline) if baseline else None
    incremental = None if mean is None else round(during - mean * elapsed)
    return ExpectedAttribution(during, elapsed, len(baseline), mean, incremental)


# ---- the properties -------------------------------------------------------------------------------


@EXAMPLES
@given(seed=seeds, rate=rates, campaigns=st.integers(2, 3), day=st.integers(1, 20), hour=start_hours,
       minute=minutes)
def test_totals_and_days_equal_the_truth_after_re_polls_and_restatements(
        property_dsn: str, seed: int, rate: float, campaigns: int, day: int, hour: int, minute: int) -> None:
    """An account in Los Angeles in USD (the simulator's first profile): the 28 settled days of each
    campaign, restated while we polled, are exactly the truth."""
    spec = Spec(seed=seed, currency="USD", timezone="America/Los_Angeles", rate=rate, campaigns=campaigns,
                start=local(date(2026, 9, day), hour, minute, "America/Los_Angeles"))
    assert_ads_equal_the_truth(observe(property_dsn, spec))


@EXAMPLES
@given(seed=seeds, rate=rates, currency=st.sampled_from(["JPY", "USD"]),
       timezone=st.sampled_from(["Asia/Tokyo", "America/New_York", "UTC"]), hour=start_hours, minute=minutes)
def test_spend_is_exact_in_major_units_of_a_zero_decimal_and_a_cents_currency(
        property_dsn: str, seed: int, rate: float, currency: str, timezone: str, hour: int, minute: int) -> None:
    """JPY has no minor unit (offset 1) and USD has cents (offset 100): spend is the truth's to the yen
    and the cent, and a campaign of ours in the other currency counts none of the account's spend."""
    spec = Spec(seed=seed, currency=currency, timezone=timezone, rate=rate, foreign=True,
                start=local(date(2026, 9, 10), hour, minute, timezone))
    seen = observe(property_dsn, spec)
    assert_ads_equal_the_truth(seen)
    assert seen.account.offset == (1 if currency == "JPY" else 100)
    for analytics in seen.analytics.values():
        unit = Decimal(1) if currency == "JPY" else Decimal("0.01")
        assert all(point.spend % unit == 0 for point in analytics.daily)
        assert analytics.summary.total_spend % unit == 0
    foreign, truth = seen.foreign, seen.truth[seen.foreign_meta_id].values()
    assert foreign is not None and foreign.currency != currency
    assert foreign.summary.total_spend == 0 and all(point.spend == 0 for point in foreign.daily)
    assert foreign.summary.total_impressions == sum(t.impressions for t in truth) > 0
    assert foreign.summary.total_clicks == sum(t.clicks for t in truth)


windows = st.builds(Window, offset=st.integers(0, PERIOD_DAYS - 1), hour=st.integers(0, 23),
                    days=st.integers(1, 45))


@EXAMPLES
@given(seed=seeds, rate=rates, currency=st.sampled_from(["JPY", "USD"]),
       timezone=st.sampled_from(["Pacific/Honolulu", "Pacific/Tongatapu", "Pacific/Apia"]), hour=start_hours,
       minute=minutes, spans=st.lists(windows, min_size=2, max_size=3),
       streams=st.lists(st.integers(1, 10_000), min_size=1, max_size=40), first_stream=st.integers(0, 70))
def test_streams_are_utc_days_while_ad_figures_are_the_accounts_days(
        property_dsn: str, seed: int, rate: float, currency: str, timezone: str, hour: int, minute: int,
        spans: list[Window], streams: list[int], first_stream: int) -> None:
    """Accounts 10 h behind and 13 h ahead of UTC: ad figures are still the truth of the account's days,
    and the streams, the baseline and the incremental streams are those of the campaign's UTC days."""
    spec = Spec(seed=seed, currency=currency, timezone=timezone, rate=rate, campaigns=len(spans),
                windows=tuple(spans), streams=tuple(streams), first_stream=first_stream,
                start=local(date(2026, 9, 10), hour, minute, timezone))
    seen = observe(property_dsn, spec)
    assert_ads_equal_the_truth(seen)
    first_stream_day = seen.period[0] - timedelta(days=first_stream)
    for meta_id, analytics in seen.analytics.items():
        attribution, expected = analytics.attribution, expected_attribution(
            seen.streams, first_stream_day, seen.windows[meta_id], seen.period, seen.now)
        assert analytics.summary.total_streams == sum(_own_streams(seen, meta_id, day) for day in _days(seen.period))
        assert attribution.streams_during == expected.streams_during
        assert attribution.elapsed_days == expected.elapsed_days
        assert attribution.baseline.observed_days == expected.observed_days
        assert attribution.baseline.daily_mean == expected.daily_mean
        assert attribution.incremental_streams == expected.incremental
        event("a campaign day in progress" if expected.elapsed_days % 1 else "whole campaign days")
        event("no baseline" if expected.daily_mean is None else "a baseline")
    assert any(analytics.summary.total_streams for analytics in seen.analytics.values())


# Each zone's DST change in the autumn of 2026: fall back in Los Angeles, Havana (at midnight: 00:00 comes
# twice) and London; spring forward in Santiago (at midnight: the day starts at 01:00), Auckland and
# Lord Howe (by 30 minutes).
DST_CHANGES = {
    "America/Los_Angeles": date(2026, 11, 1),
    "America/Havana": date(2026, 11, 1),
    "Europe/London": date(2026, 10, 25),
    "America/Santiago": date(2026, 9, 6),
    "Pacific/Auckland": date(2026, 9, 27),
    "Australia/Lord_Howe": date(2026, 10, 4),
}


@EXAMPLES
@given(seed=seeds, rate=rates, timezone=st.sampled_from(sorted(DST_CHANGES)), after=st.integers(1, PERIOD_DAYS - 1),
       hour=start_hours, minute=minutes)
def test_a_period_across_a_dst_change_has_each_local_day_once(
        property_dsn: str, seed: int, rate: float, timezone: str, after: int, hour: int, minute: int) -> None:
    """The simulator starts ``after`` days past the account's DST change, so the period holds the day of
    23 or 25 hours: every local day is there once, in order, with the truth's figures."""
    change = DST_CHANGES[timezone]
    spec = Spec(seed=seed, currency="USD", timezone=timezone, rate=rate,
                start=local(change + timedelta(days=after - 1), hour, minute, timezone))
    seen = observe(property_dsn, spec)
    assert seen.period[0] <= change <= seen.period[1]
    hours = (local(change + DAY, 0, 0, timezone).timestamp() - local(change, 0, 0, timezone).timestamp()) / HOUR
    assert hours in (23, 23.5, 25), hours
    assert_ads_equal_the_truth(seen)
    for analytics in seen.analytics.values():
        assert [point.date for point in analytics.daily] == _days(seen.period)  # none missing, none twice
        assert sum(point.spend for point in analytics.daily) == analytics.summary.total_spend
        assert analytics.daily[(change - seen.period[0]).days].spend > 0

