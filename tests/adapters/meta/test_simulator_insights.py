"""Insights from the Meta simulator equal the world's ground truth, day by day in the account's timezone.

Rules: numbers are read over HTTP and compared with ``World.truth``; timezone behaviour is also checked
independently of the truth, with a campaign created at a known instant. Time is a ``ManualClock``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.meta.simulator import Account, FaultConfig, MetaSimulator, SimulatorConfig, format_spend
from adapters.meta.simulator.clock import parse_start
from tests.adapters.meta.sim import client, make

FIELDS = "campaign_id,spend,impressions,clicks,actions,date_start,date_stop"
RANGE_AUG = json.dumps({"since": "2026-08-01", "until": "2026-08-31"})


def account_in(sim: MetaSimulator, timezone: str) -> Account:
    return next(a for a in sim.world.accounts.values() if a.timezone_name == timezone)


Row = dict[str, Any]


async def daily_rows(http: httpx.AsyncClient, path: str, since: date, until: date, **extra: str) -> list[Row]:
    params = {
        "level": "campaign",
        "time_increment": "1",
        "fields": FIELDS,
        "limit": "500",
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        **extra,
    }
    response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    assert "x-fb-ads-insights-throttle" in response.headers
    assert "next" not in response.json().get("paging", {})
    rows: list[Row] = response.json()["data"]
    return rows


@pytest.mark.parametrize(
    ("timezone", "today"), [("Pacific/Honolulu", "2026-09-01"), ("Pacific/Tongatapu", "2026-09-02")]
)
async def test_daily_insights_equal_ground_truth_in_the_account_timezone(timezone: str, today: str) -> None:
    sim, _ = make()  # start 2026-09-01T12:00Z: 02:00 on Sep 1 in Honolulu, 01:00 on Sep 2 in Tongatapu
    account = account_in(sim, timezone)
    async with client(sim) as http:
        rows = await daily_rows(http, f"/v25.0/act_{account.account_id}/insights", date(2026, 8, 20), date(2026, 9, 5))
    assert max(r["date_start"] for r in rows) == today
    expected = {}
    for campaign in sim.world.campaigns_of(account):
        day = date(2026, 8, 20)
        while day <= date.fromisoformat(today):
            truth = sim.world.truth(campaign.id, day)[()]
            if truth.impressions or truth.spend_minor:
                expected[(campaign.id, day.isoformat())] = truth
            day += timedelta(days=1)
    assert {(r["campaign_id"], r["date_start"]) for r in rows} == set(expected)
    for row in rows:
        truth = expected[(row["campaign_id"], row["date_start"])]
        assert row["date_stop"] == row["date_start"]
        assert row["spend"] == format_spend(truth.spend_minor, account.offset)
        assert (row["impressions"], row["clicks"]) == (str(truth.impressions), str(truth.clicks))
        assert {"action_type": "link_click", "value": str(truth.clicks)} in row["actions"]


@pytest.mark.parametrize(
    ("timezone", "local_day"), [("Pacific/Honolulu", "2026-09-01"), ("Pacific/Tongatapu", "2026-09-02")]
)
async def test_delivery_lands_on_the_local_day(timezone: str, local_day: str) -> None:
    sim, clock = make()
    account = account_in(sim, timezone)
    async with client(sim) as http:
        created = (
            await http.post(
                f"/v25.0/act_{account.account_id}/campaigns",
                data={
                    "name": "Tonight",
                    "objective": "OUTCOME_AWARENESS",
                    "special_ad_categories": "[]",
                    "daily_budget": "10000",
                },
            )
        ).json()
        clock.advance(20 * 3600)  # 12:00Z → 08:00Z next day: still one local day in both zones
        rows = await daily_rows(http, f"/v25.0/{created['id']}/insights", date(2026, 8, 31), date(2026, 9, 3))
    assert [r["date_start"] for r in rows] == [local_day]
    assert 0 < Decimal(rows[0]["spend"]) <= Decimal(10000) / account.offset  # never above the daily budget


async def test_breakdowns_split_the_totals_exactly() -> None:
    sim, _ = make()
    account = account_in(sim, "Asia/Tokyo")
    campaign = sorted(sim.world.campaigns_of(account), key=lambda c: c.id)[0]
    async with client(sim) as http:
        rows = await daily_rows(
            http, f"/v25.0/{campaign.id}/insights", date(2026, 8, 25), date(2026, 8, 25), breakdowns="age,gender"
        )
    truth = sim.world.truth(campaign.id, date(2026, 8, 25))[()]
    assert {(r["age"], r["gender"]) for r in rows} <= {
        (a, g) for a in ("18-24", "25-34", "35-44", "45-54", "55-64", "65+") for g in ("female", "male", "unknown")
    }
    assert sum(int(r["impressions"]) for r in rows) == truth.impressions
    assert sum(int(r["spend"]) for r in rows) == truth.spend_minor  # JPY: offset 1, whole yen


async def test_all_days_sums_the_range_and_empty_insights_still_carry_the_throttle_header() -> None:
    sim, _ = make()
    account = account_in(sim, "America/Los_Angeles")
    span = [date(2026, 8, 1) + timedelta(days=n) for n in range(10)]
    async with client(sim) as http:
        total = await http.get(
            f"/v25.0/act_{account.account_id}/insights",
            params={
                "fields": "spend,impressions",
                "time_range": json.dumps({"since": "2026-08-01", "until": "2026-08-10"}),
            },
        )
        empty = await http.get(
            f"/v25.0/act_{account.account_id}/insights",
            params={"time_range": json.dumps({"since": "2026-01-01", "until": "2026-01-02"})},
        )
    expected = sum(sim.world.truth(c.id, d)[()].impressions for c in sim.world.campaigns_of(account) for d in span)
    assert total.json()["data"][0]["impressions"] == str(expected)
    assert total.json()["data"][0]["date_stop"] == "2026-08-10"
    assert empty.json() == {"data": []}
    assert json.loads(empty.headers["x-fb-ads-insights-throttle"])["ads_api_access_tier"] == "development_access"


async def test_restatements_change_recent_days_and_the_truth_with_them() -> None:
    sim, clock = make(faults=FaultConfig(restatement_rate=1.0))
    account = account_in(sim, "Europe/London")
    recent, settled = date(2026, 8, 25), date(2026, 7, 20)
    async with client(sim) as http:
        before = await daily_rows(http, f"/v25.0/act_{account.account_id}/insights", settled, recent)
        clock.advance(86400)
        after = await daily_rows(http, f"/v25.0/act_{account.account_id}/insights", settled, recent)
    by_day = {
        d: (
            {(r["campaign_id"], r["spend"]) for r in before if r["date_start"] == d},
            {(r["campaign_id"], r["spend"]) for r in after if r["date_start"] == d},
        )
        for d in (recent.isoformat(), settled.isoformat())
    }
    assert by_day[recent.isoformat()][0] != by_day[recent.isoformat()][1]
    assert by_day[settled.isoformat()][0] == by_day[settled.isoformat()][1]  # older than 28 days: final
    for row in after:
        truth = sim.world.truth(row["campaign_id"], date.fromisoformat(row["date_start"]))[()]
        assert row["spend"] == format_spend(truth.spend_minor, account.offset)


async def test_today_grows_as_simulated_time_passes() -> None:
    sim, clock = make()
    account = account_in(sim, "America/Los_Angeles")
    params = {"date_preset": "today", "fields": "spend,impressions"}
    async with client(sim) as http:
        morning = (await http.get(f"/v25.0/act_{account.account_id}/insights", params=params)).json()["data"]
        clock.advance(6 * 3600)
        noon = (await http.get(f"/v25.0/act_{account.account_id}/insights", params=params)).json()["data"]
    assert int(noon[0]["impressions"]) > int(morning[0]["impressions"])


async def test_oversized_sync_queries_ask_to_reduce_the_data() -> None:
    sim, _ = make(insights_max_rows=50, insights_max_cells=100)  # 6 values a row at account level
    act = f"act_{account_in(sim, 'Asia/Tokyo').account_id}"
    span = json.dumps({"since": "2026-08-01", "until": "2026-08-30"})
    async with client(sim) as http:
        too_many_rows = await http.get(
            f"/v25.0/{act}/insights", params={"level": "campaign", "time_increment": "1", "time_range": span}
        )
        too_big_page = await http.get(
            f"/v25.0/{act}/insights",
            params={"time_increment": "1", "time_range": span, "fields": FIELDS, "limit": "40"},
        )
        smaller_page = await http.get(
            f"/v25.0/{act}/insights",
            params={"time_increment": "1", "time_range": span, "fields": FIELDS, "limit": "10"},
        )
    assert too_many_rows.status_code == 400
    assert (too_many_rows.json()["error"]["code"], too_many_rows.json()["error"]["error_subcode"]) == (100, 1487534)
    assert too_big_page.status_code == 500 and too_big_page.json()["error"]["code"] == 1
    assert "reduce the amount of data" in too_big_page.json()["error"]["message"]
    assert smaller_page.status_code == 200 and "next" in smaller_page.json()["paging"]


async def test_last_month_preset_covers_the_previous_calendar_month() -> None:
    sim, _ = make()
    act = f"act_{account_in(sim, 'Europe/London').account_id}"
    async with client(sim) as http:
        body = (await http.get(f"/v25.0/{act}/insights", params={"date_preset": "last_month"})).json()
    assert (body["data"][0]["date_start"], body["data"][0]["date_stop"]) == ("2026-08-01", "2026-08-31")


async def test_monthly_increment_cuts_at_calendar_months() -> None:
    sim, _ = make()
    act = f"act_{account_in(sim, 'Europe/London').account_id}"
    span = json.dumps({"since": "2026-07-15", "until": "2026-08-20"})
    async with client(sim) as http:
        body = (
            await http.get(f"/v25.0/{act}/insights", params={"time_range": span, "time_increment": "monthly"})
        ).json()
    assert [(r["date_start"], r["date_stop"]) for r in body["data"]] == [
        ("2026-07-15", "2026-07-31"),
        ("2026-08-01", "2026-08-20"),
    ]


async def test_summary_totals_every_row_not_just_the_page() -> None:
    sim, _ = make()
    act = f"act_{account_in(sim, 'Pacific/Honolulu').account_id}"
    params = {"time_range": RANGE_AUG, "time_increment": "1", "fields": "spend,impressions", "summary": "true"}
    async with client(sim) as http:
        first = (await http.get(f"/v25.0/{act}/insights", params={**params, "limit": "5"})).json()
        every = (await http.get(f"/v25.0/{act}/insights", params={**params, "limit": "100"})).json()
    assert len(first["data"]) == 5 and len(every["data"]) == 31
    assert first["summary"] == every["summary"]
    assert first["summary"]["impressions"] == str(sum(int(r["impressions"]) for r in every["data"]))
    assert Decimal(first["summary"]["spend"]) == sum(Decimal(r["spend"]) for r in every["data"])


def test_a_simulator_can_be_built_outside_trio() -> None:
    sim = MetaSimulator(SimulatorConfig(speed=60.0))
    assert sim.clock.now() == parse_start(sim.config.start)
    assert len(sim.world.accounts) == 6
