"""``filtering`` on the Meta simulator's insights, as a client meets it: served over real HTTP (hypercorn on
127.0.0.1:0), the campaign filters narrowing both campaign rows and account sums, metric filters dropping
rows, and Meta's error 100 for what it would refuse.

Rules: the simulator runs on a ``ManualClock`` that nobody moves, so the numbers are fixed; expected values
come from ``World.truth``; every call is under a ``fail_after`` on trio's real clock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from adapters.meta.simulator import ManualClock, MetaSimulator, SimulatorConfig, serve_meta_simulator
from adapters.meta.simulator.clock import parse_start
from tests.adapters.meta.sim import TOKEN

DAY = date(2026, 8, 20)
RANGE = json.dumps({"since": DAY.isoformat(), "until": DAY.isoformat()})


@pytest.fixture
async def served(nursery: trio.Nursery) -> AsyncIterator[tuple[MetaSimulator, httpx.AsyncClient]]:
    config = SimulatorConfig(seed=5)
    with trio.fail_after(10):
        served = await nursery.start(partial(serve_meta_simulator, clock=ManualClock(parse_start(config.start))),
                                     config, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield served.simulator, http


async def _insights(http: httpx.AsyncClient, act: str, filtering: Any, **extra: str) -> httpx.Response:
    params = {"level": "campaign", "time_range": RANGE, "fields": "campaign_id,campaign_name,spend,impressions",
              "filtering": json.dumps(filtering), "limit": "500", **extra}
    with trio.fail_after(10):
        return await http.get(f"/v25.0/act_{act}/insights", params=params)


def _busiest_account(sim: MetaSimulator) -> tuple[str, list[str]]:
    """The ad account with the most campaigns that delivered on DAY, and those campaigns' ids."""
    best: tuple[str, list[str]] = ("", [])
    for account in sim.world.accounts.values():
        ids = sorted(c.id for c in sim.world.campaigns_of(account) if sim.world.truth(c.id, DAY)[()].impressions)
        if len(ids) > len(best[1]):
            best = (account.account_id, ids)
    assert len(best[1]) >= 3
    return best


async def test_campaign_id_in_keeps_only_those_campaigns_rows_and_sums(
        served: tuple[MetaSimulator, httpx.AsyncClient]) -> None:
    sim, http = served
    act, ids = _busiest_account(sim)
    wanted = ids[:2]
    answer = await _insights(http, act, [{"field": "campaign.id", "operator": "IN", "value": wanted}])
    assert answer.status_code == 200, answer.text
    assert sorted(row["campaign_id"] for row in answer.json()["data"]) == wanted
    total = await _insights(http, act, [{"field": "campaign.id", "operator": "IN", "value": wanted}],
                            level="account", fields="impressions")
    assert total.json()["data"][0]["impressions"] == str(sum(sim.world.truth(c, DAY)[()].impressions for c in wanted))
    others = await _insights(http, act, [{"field": "campaign.id", "operator": "NOT_IN", "value": wanted}])
    assert sorted(row["campaign_id"] for row in others.json()["data"]) == ids[2:]


async def test_equal_name_and_metric_filters_hold_together(served: tuple[MetaSimulator, httpx.AsyncClient]) -> None:
    sim, http = served
    act, ids = _busiest_account(sim)
    name = sim.world.campaigns[ids[0]].name
    named = await _insights(http, act, [{"field": "campaign.name", "operator": "EQUAL", "value": name}])
    assert [row["campaign_name"] for row in named.json()["data"]] == [name]
    impressions = sorted(sim.world.truth(c, DAY)[()].impressions for c in ids)
    floor = impressions[len(impressions) // 2]
    big = await _insights(http, act, [{"field": "impressions", "operator": "GREATER_THAN_OR_EQUAL", "value": floor},
                                      {"field": "campaign.id", "operator": "IN", "value": ids}])
    assert sorted(int(row["impressions"]) for row in big.json()["data"]) == [n for n in impressions if n >= floor]


@pytest.mark.parametrize(("filtering", "message"), [
    ({"field": "campaign.id", "operator": "IN", "value": ["1"]}, "param filtering must be an array."),
    ([{"field": "campaign_name", "operator": "CONTAIN", "value": "x"}],
     "Filter campaign_name is not valid any more, please use campaign.name instead"),
    ([{"field": "delivery_info", "operator": "IN", "value": ["active"]}], "Filtering field delivery_info is invalid"),
    ([{"field": "campaign.id", "value": ["1"]}], "The parameter filtering[0][operator] is required"),
    ([{"field": "spend", "operator": "CONTAIN", "value": "1"}], "Filtering operator CONTAIN is not supported"),
    ([{"field": "campaign.id", "operator": "IN", "value": "1"}], "must be a list"),
    ([{"field": "spend", "operator": "GREATER_THAN", "value": "lots"}], "must be a number"),
])
async def test_filters_meta_would_refuse_answer_its_error_100(
        served: tuple[MetaSimulator, httpx.AsyncClient], filtering: Any, message: str) -> None:
    sim, http = served
    act, _ = _busiest_account(sim)
    answer = await _insights(http, act, filtering)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert message in error["message"]
