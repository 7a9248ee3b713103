"""MetaClient insights against the Meta simulator: numbers equal ``World.truth``, day by day, in the account's timezone.

Rules: a ``ManualClock`` at 2026-09-01T12:00Z (02:00 on Sep 1 in Honolulu, UTC-10; 01:00 on Sep 2 in
Tongatapu, UTC+13); expected numbers are summed from ``sim.world.truth`` and converted with
``adapters.meta.money``; async report runs are driven by advancing the clock, never by sleeping.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.meta.client import MetaClient
from adapters.meta.errors import ReduceDataError
from adapters.meta.money import to_major
from adapters.meta.schemas import InsightRow
from adapters.meta.simulator import Account, FaultConfig, MetaSimulator
from engine.provider import FatalProviderError, RetryableError
from tests.adapters.meta.sim import TOKEN, make

BASE = "https://graph.facebook.com"
SINCE, UNTIL = date(2026, 8, 20), date(2026, 9, 5)


def http_for(sim: MetaSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim))


def account_in(sim: MetaSimulator, timezone: str) -> Account:
    return next(a for a in sim.world.accounts.values() if a.timezone_name == timezone)


def expected_days(sim: MetaSimulator, account: Account, since: date, until: date) -> dict[tuple[str, date], InsightRow]:
    """What Meta should report per (campaign, local day): the truth, with spend in major units."""
    expected = {}
    for campaign in sim.world.campaigns_of(account):
        day = since
        while day <= min(until, sim.world.local_date(account)):
            truth = sim.world.truth(campaign.id, day)[()]
            if truth.impressions or truth.spend_minor:
                expected[(campaign.id, day)] = InsightRow(
                    date_start=day, date_stop=day, impressions=truth.impressions, clicks=truth.clicks,
                    spend=to_major(truth.spend_minor, account.currency))
            day += timedelta(days=1)
    return expected


def as_days(rows: list[InsightRow]) -> dict[tuple[str, date], tuple[int, int, object]]:
    return {(r.campaign_id or "", r.date_start): (r.impressions, r.clicks, r.spend) for r in rows}


@pytest.mark.parametrize(
    ("timezone", "currency", "today"),
    [("Pacific/Honolulu", "USD", date(2026, 9, 1)), ("Pacific/Tongatapu", "KRW", date(2026, 9, 2)),
     ("Asia/Tokyo", "JPY", date(2026, 9, 1))],
)
async def test_daily_insights_equal_ground_truth(timezone: str, currency: str, today: date) -> None:
    sim, _ = make()
    account = account_in(sim, timezone)
    assert account.currency == currency
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).campaign_insights(f"act_{account.account_id}",
                                                                                 SINCE, UNTIL)
    expected = expected_days(sim, account, SINCE, UNTIL)
    assert max(r.date_start for r in result.data) == today
    assert as_days(result.data) == {k: (v.impressions, v.clicks, v.spend) for k, v in expected.items()}
    assert all(r.date_start == r.date_stop for r in result.data)
    if currency != "USD":  # offset 1: spend is whole units, never divided by 100
        assert all(r.spend == r.spend.to_integral_value() for r in result.data)
    link_clicks = {r.campaign_id: sum(int(a.value) for a in r.actions if a.action_type == "link_click")
                   for r in result.data}
    assert link_clicks  # actions came through as a typed list
    signals = {s.domain for s in result.signals}
    assert "meta:insights:app" in signals and f"meta:act_{account.account_id}:insights" in signals


async def test_campaign_insights_page_to_the_end_and_split_by_breakdowns() -> None:
    sim, _ = make()
    account = account_in(sim, "Pacific/Honolulu")
    campaign = sim.world.campaigns_of(account)[0]
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).campaign_insights(
            campaign.id, SINCE, UNTIL, breakdowns=("age", "gender", "country"), act_id=f"act_{account.account_id}")
    assert len(result.data) > 500  # more than one page of 500
    assert len([r for r in sim.requests if r.path.endswith("/insights")]) >= 2
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for row in result.data:
        assert row.age is not None and row.gender is not None and row.country is not None
        key = (row.age, row.gender, row.country)
        truth = sim.world.truth(campaign.id, row.date_start, ("age", "gender", "country"))[key]
        assert (row.impressions, row.spend) == (truth.impressions, to_major(truth.spend_minor, "USD"))
        totals[row.date_start][0] += row.impressions
    assert all(sim.world.truth(campaign.id, day)[()].impressions == t[0] for day, t in totals.items())


async def test_async_report_runs_to_completion_with_the_sync_rows() -> None:
    """Past days only: a run snapshots its rows at submission, and today keeps delivering meanwhile."""
    sim, clock = make()
    until = date(2026, 8, 31)
    account = account_in(sim, "Asia/Tokyo")
    act = f"act_{account.account_id}"
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        started = await client.start_report(act, SINCE, until)
        first = await client.report_status(started.data, act_id=act)
        with pytest.raises(FatalProviderError, match="not complete"):
            await client.report_rows(started.data, act_id=act)
        clock.advance(sim.config.report_run_s / 2)
        halfway = await client.report_status(started.data, act_id=act)
        clock.advance(sim.config.report_run_s)
        done = await client.report_status(started.data, act_id=act)
        rows = await client.report_rows(started.data, act_id=act)
        sync = await client.campaign_insights(act, SINCE, until)
    assert (first.data.async_status, first.data.completed) == ("Job Not Started", False)
    assert halfway.data.async_status == "Job Running" and 0 < halfway.data.async_percent_completion < 100
    assert done.data.completed and not done.data.failed
    assert rows.data == sync.data
    assert as_days(rows.data) == {k: (v.impressions, v.clicks, v.spend)
                                  for k, v in expected_days(sim, account, SINCE, until).items()}
    assert f"meta:{act}:insights" in {s.domain for s in rows.signals}


async def test_a_failed_report_run_says_so() -> None:
    sim, clock = make(faults=FaultConfig(report_failure_rate=1.0))
    act = f"act_{account_in(sim, 'Asia/Tokyo').account_id}"
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        started = await client.start_report(act, SINCE, UNTIL)
        clock.advance(sim.config.report_run_s + 1)
        status = await client.report_status(started.data, act_id=act)
    assert status.data.failed and not status.data.completed
    assert (status.data.error_code, status.data.error_subcode) == (-2, 2490547)


def test_since_after_until_is_refused_before_any_call() -> None:
    from adapters.meta.insights import insights_params

    with pytest.raises(ValueError, match="after"):
        insights_params(UNTIL, SINCE)
    params = insights_params(SINCE, UNTIL, breakdowns=("country",))
    assert params["time_range"] == '{"since": "2026-08-20", "until": "2026-09-05"}'
    assert params["breakdowns"] == "country"


async def test_too_many_rows_for_a_sync_query_asks_to_reduce_the_data() -> None:
    sim, _ = make(insights_max_rows=10)
    act = f"act_{account_in(sim, 'Pacific/Honolulu').account_id}"
    async with http_for(sim) as http:
        with pytest.raises(ReduceDataError) as caught:
            await MetaClient(http, TOKEN, base_url=BASE).campaign_insights(act, SINCE, UNTIL)
    assert isinstance(caught.value, RetryableError) and caught.value.retry_after is None


async def test_account_level_rows_sum_the_campaigns_and_an_expired_run_is_failed() -> None:
    sim, clock = make()
    account = account_in(sim, "Pacific/Tongatapu")
    act = f"act_{account.account_id}"
    until = date(2026, 8, 31)
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        rows = await client.campaign_insights(act, SINCE, until, level="account", time_increment="all_days")
        started = await client.start_report(act, SINCE, until)
        clock.advance(31 * 86400)
        status = await client.report_status(started.data, act_id=act)
    expected = expected_days(sim, account, SINCE, until).values()
    assert len(rows.data) == 1 and rows.data[0].campaign_id is None
    assert (rows.data[0].date_start, rows.data[0].date_stop) == (SINCE, until)
    assert rows.data[0].impressions == sum(r.impressions for r in expected)
    assert rows.data[0].spend == sum((r.spend for r in expected), Decimal(0))
    assert status.data.async_status == "Job Skipped" and status.data.failed
