"""The Meta simulator acts on campaign writes: a pause stops delivery from that moment, budgets pace and cap it,
bad budgets get Meta's refusals, ``minimum_budgets`` answers, and writes can be refused on purpose.

Rules: every behaviour is observed through HTTP (``httpx.ASGITransport``); the world is read only for ids.
Time is a ``ManualClock`` the test moves. Spend is read back from insights in US cents (USD accounts only).
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.meta.simulator import FaultConfig, MetaSimulator
from tests.adapters.meta.sim import client, make

HOUR = 3600.0
ERROR_KEYS = {"message", "type", "code", "is_transient", "fbtrace_id"}
USER_KEYS = ERROR_KEYS | {"error_user_title", "error_user_msg"}


def usd_act(sim: MetaSimulator) -> str:
    return "act_" + next(a.account_id for a in sim.world.accounts.values() if a.currency == "USD")


async def create(http: httpx.AsyncClient, act: str, **budget: str) -> str:
    data = {"name": "Single drop", "objective": "OUTCOME_TRAFFIC", "status": "ACTIVE",
            "special_ad_categories": "[]", **budget}
    response = await http.post(f"/v25.0/{act}/campaigns", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def days(http: httpx.AsyncClient, campaign_id: str) -> dict[str, int]:
    """The campaign's spend per local day so far, in cents."""
    params = {"date_preset": "maximum", "time_increment": "1", "fields": "spend", "limit": "5000"}
    response = await http.get(f"/v25.0/{campaign_id}/insights", params=params)
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    return {row["date_start"]: int(Decimal(row["spend"]) * 100) for row in rows}


async def total(http: httpx.AsyncClient, campaign_id: str) -> int:
    return sum((await days(http, campaign_id)).values())


async def write(http: httpx.AsyncClient, campaign_id: str, **params: str) -> httpx.Response:
    return await http.post(f"/v25.0/{campaign_id}", data=params)


@pytest.mark.parametrize(("stop", "resume"), [
    ({"status": "PAUSED"}, {"status": "ACTIVE"}),
    ({"daily_budget": "1000"}, {"daily_budget": "50000"}),  # under what the day has spent, then above it
])
async def test_a_pause_or_a_lower_daily_budget_stops_delivery_from_that_moment(
        stop: dict[str, str], resume: dict[str, str]) -> None:
    sim, clock = make()
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), daily_budget="10000")
        clock.advance(6 * HOUR)
        spent = await total(http, campaign)
        assert spent > 1000
        assert (await write(http, campaign, **stop)).json() == {"success": True}
        clock.advance(5 * HOUR)
        assert await total(http, campaign) == spent
        assert (await write(http, campaign, **resume)).json() == {"success": True}
        clock.advance(6 * HOUR)
        by_day = await days(http, campaign)
    assert spent < sum(by_day.values()) <= 50000
    assert len(by_day) == 1


async def test_past_days_stay_as_delivered_whatever_is_written_today() -> None:
    sim, _ = make()
    seeded = next(c for c in sim.world.campaigns.values() if c.status == "ACTIVE" and c.daily_budget)
    async with client(sim) as http:
        before = await days(http, seeded.id)
        assert (await write(http, seeded.id, status="PAUSED", name="Paused")).status_code == 200
        assert (await write(http, seeded.id, daily_budget="100000")).status_code == 200
        assert (await write(http, seeded.id, lifetime_budget=str(100 * sum(before.values())))).status_code == 200
        after = await days(http, seeded.id)
    assert after == before


async def test_a_lifetime_budget_stops_delivery_when_reached() -> None:
    sim, clock = make()
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), lifetime_budget="100000")  # 1,000 USD: 33.33 a day at most
        clock.advance(60 * 24 * HOUR)
        reached = await total(http, campaign)
        clock.advance(10 * 24 * HOUR)
        later = await total(http, campaign)
        read = (await http.get(f"/v25.0/{campaign}", params={"fields": "lifetime_budget,budget_remaining"})).json()
    assert reached == later == 100000
    assert (read["lifetime_budget"], read["budget_remaining"]) == ("100000", "0")


async def test_a_budget_of_the_other_kind_replaces_the_first() -> None:
    sim, clock = make()
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), daily_budget="10000")
        clock.advance(HOUR)
        assert (await write(http, campaign, lifetime_budget="2605")).status_code == 200
        read = (await http.get(f"/v25.0/{campaign}", params={"fields": "daily_budget,lifetime_budget"})).json()
    assert read == {"id": campaign, "lifetime_budget": "2605"}


def _error(response: httpx.Response) -> dict[str, object]:
    error = response.json()["error"]
    assert isinstance(error, dict)
    assert error.pop("fbtrace_id")
    return error


async def test_bad_budget_writes_get_metas_errors_and_change_nothing() -> None:
    sim, clock = make()
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), daily_budget="10000")
        clock.advance(6 * HOUR)
        spent = await total(http, campaign)
        answers = [await write(http, campaign, **change) for change in (
            {"daily_budget": "ten"}, {"daily_budget": "-5"}, {"daily_budget": "499"},
            {"lifetime_budget": "100000001"}, {"lifetime_budget": str(spent - 1)},
            {"daily_budget": "600", "lifetime_budget": "60000"}, {"status": "PAUSED", "daily_budget": "0"},
        )]
        read = (await http.get(f"/v25.0/{campaign}", params={"fields": "status,daily_budget,lifetime_budget"})).json()
    assert all(a.status_code == 400 and set(a.json()["error"]) <= USER_KEYS | {"error_subcode"} for a in answers)
    plain = {"type": "OAuthException", "code": 100, "is_transient": False}
    too_low = {**plain, "message": "Invalid parameter", "error_user_title": "Budget Is Too Low"}
    assert [_error(a) for a in answers] == [
        {**plain, "message": "(#100) Param daily_budget must be an integer"},
        {**plain, "message": "(#100) Param daily_budget must be a positive integer"},
        {**too_low, "error_user_msg": "The daily budget for this campaign must be at least 5.00 USD."},
        {**plain, "message": "Invalid parameter", "error_subcode": 1885261, "error_user_title": "Budget Too High",
         "error_user_msg": "The lifetime budget can't be more than 1,000,000.00 USD."},
        {**too_low, "error_user_msg": f"The lifetime budget can't be less than the {Decimal(spent) / 100:,.2f} USD"
                                      " this campaign has already spent."},
        {**plain, "message": "(#100) Only one of daily_budget or lifetime_budget can be set",
         "error_subcode": 1885621},
        {**plain, "message": "(#100) Param daily_budget must be a positive integer"},
    ]
    assert read == {"id": campaign, "status": "ACTIVE", "daily_budget": "10000"}


async def test_a_lifetime_budget_needs_the_daily_minimum_for_each_day_so_far() -> None:
    sim, clock = make()
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), daily_budget="10000")
        clock.advance(2 * 24 * HOUR)  # its third local day
        short = await write(http, campaign, lifetime_budget="1499", execution_options='["validate_only"]')
        checked = await write(http, campaign, lifetime_budget="200000", execution_options='["validate_only"]')
        read = (await http.get(f"/v25.0/{campaign}", params={"fields": "daily_budget,lifetime_budget"})).json()
    assert _error(short)["error_user_msg"] == (
        "The lifetime budget for this campaign must be at least 15.00 USD (5.00 USD a day for 3 days).")
    assert checked.json() == {"success": True}
    assert read == {"id": campaign, "daily_budget": "10000"}  # validate_only applied nothing


async def test_minimum_budgets_are_in_the_accounts_minor_units() -> None:
    sim, _ = make()
    by_currency = {a.currency: a.account_id for a in sim.world.accounts.values()}
    async with client(sim) as http:
        usd = (await http.get(f"/v25.0/act_{by_currency['USD']}/minimum_budgets")).json()["data"]
        jpy = (await http.get(f"/v25.0/act_{by_currency['JPY']}/minimum_budgets")).json()["data"]
        yen_campaign = await http.post(f"/v25.0/act_{by_currency['JPY']}/campaigns", data={
            "name": "x", "objective": "OUTCOME_AWARENESS", "special_ad_categories": "[]", "daily_budget": "149"})
    assert usd == [{"currency": "USD", "min_daily_budget_high_freq": 500, "min_daily_budget_low_freq": 4000,
                    "min_daily_budget_imp": 100, "min_daily_budget_video_views": 100}]
    assert jpy == [{"currency": "JPY", "min_daily_budget_high_freq": 750, "min_daily_budget_low_freq": 6000,
                    "min_daily_budget_imp": 150, "min_daily_budget_video_views": 150}]
    assert _error(yen_campaign)["error_user_msg"] == "The daily budget for this campaign must be at least 150 JPY."


async def test_the_first_writes_can_be_refused_with_a_transient_code_2() -> None:
    sim, _ = make(faults=FaultConfig(refused_writes=2))
    act = usd_act(sim)
    seeded = next(c for c in sim.world.campaigns.values() if c.status == "ACTIVE")
    async with client(sim) as http:
        first = await write(http, seeded.id, status="PAUSED")
        read = await http.get(f"/v25.0/{seeded.id}", params={"fields": "status"})  # reads are never refused
        second = await http.post(f"/v25.0/{act}/campaigns", data={
            "name": "x", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": "[]"})
        third = await write(http, seeded.id, status="PAUSED")
    for refused in (first, second):
        assert refused.status_code == 500
        assert _error(refused) == {"message": "An unexpected error has occurred. Please retry your request later.",
                                   "type": "OAuthException", "code": 2, "is_transient": True}
    assert read.json() == {"id": seeded.id, "status": "ACTIVE"}
    assert third.json() == {"success": True} and seeded.status == "PAUSED"


async def _refusals(seed: int) -> list[int]:
    sim, _ = make(seed=seed, faults=FaultConfig(write_error_rate=0.5, write_error_code=100))
    seeded = next(c for c in sim.world.campaigns.values() if c.status == "ACTIVE")
    async with client(sim) as http:
        return [(await write(http, seeded.id, name=f"n{i}")).status_code for i in range(12)]


async def test_a_share_of_writes_is_refused_the_same_way_for_the_same_seed() -> None:
    first, again = await _refusals(3), await _refusals(3)
    assert first == again
    assert set(first) == {200, 400}
    sim, _ = make(faults=FaultConfig(refused_writes=1, write_error_code=100))
    seeded = next(c for c in sim.world.campaigns.values() if c.status == "ACTIVE")
    async with client(sim) as http:
        refused = await write(http, seeded.id, status="PAUSED")
    assert refused.status_code == 400
    assert _error(refused) == {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                               "is_transient": False, "error_user_title": "Write refused",
                               "error_user_msg": "The simulator was told to refuse this write"
                                                 " (faults.write_error_code 100)."}


# --- properties ------------------------------------------------------------------------------------

# Budgets are drawn so that they are often reached: a lifetime budget is written as headroom over what was
# spent so far, a daily one is often small, and time moves by up to about 17 days at once.
ops = st.lists(st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 400)),
    st.tuples(st.sampled_from(["PAUSED", "ACTIVE"]), st.just(0)),
    st.tuples(st.just("daily_budget"), st.integers(500, 1_500) | st.integers(500, 20_000)),
    st.tuples(st.just("lifetime_budget"), st.integers(0, 3_000)),
), max_size=12)


async def _apply(http: httpx.AsyncClient, campaign: str, kind: str, value: int, spent: int) -> tuple[bool, int]:
    """Write one step; whether Meta took it, and the value written."""
    if kind in ("PAUSED", "ACTIVE"):
        return (await write(http, campaign, status=kind)).status_code == 200, 0
    value = spent + value if kind == "lifetime_budget" else value
    return (await write(http, campaign, **{kind: str(value)})).status_code == 200, value


async def _replay(steps: list[tuple[str, int]], first: tuple[str, int]) -> None:
    sim, clock = make(tier="standard_access")  # its score limit lets a dozen steps read after each one
    async with client(sim) as http:
        campaign = await create(http, usd_act(sim), **{first[0]: str(first[1])})
        budget, paused = dict([first]), False
        for kind, value in steps:
            before = await days(http, campaign)
            if kind == "advance":
                clock.advance(value * HOUR)
            else:
                taken, written = await _apply(http, campaign, kind, value, sum(before.values()))
                if taken and kind in ("PAUSED", "ACTIVE"):
                    paused = kind == "PAUSED"
                elif taken:
                    budget = {kind: written}
            after = await days(http, campaign)
            if paused:
                assert after == before
            if "lifetime_budget" in budget:
                assert sum(after.values()) <= budget["lifetime_budget"]
            else:  # a day stops at the daily budget in force, or where it already was when it was lowered
                assert all(spend <= max(before.get(day, 0), budget["daily_budget"]) for day, spend in after.items())


@settings(max_examples=40)
@given(st.sampled_from([("lifetime_budget", 20_000), ("daily_budget", 5_000)]), ops)
def test_whatever_is_written_spend_stays_within_budget_and_stops_while_paused(
        first: tuple[str, int], steps: list[tuple[str, int]]) -> None:
    """A campaign never spends past its lifetime budget, a day never past its daily budget (once lowered
    under what the day had spent, it spends no more), and nothing is delivered while it is paused."""
    trio.run(_replay, steps, first)
