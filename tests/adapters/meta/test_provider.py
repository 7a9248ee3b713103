"""``MetaAds``, the account poller's provider: Meta's rows, ids, statuses and rate domains in neutral terms.

Rules: Graph is faked at the transport (``httpx.MockTransport`` answering with the JSON Meta sends, numbers
as strings), so each test states the exact rows it maps; the numbers against the simulator's truth are
tests/actors/test_meta_account.py's. Each test reads the requests the fake saw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date

import httpx
import pytest

from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.meta.usage import read_usage
from config import MetaSettings
from engine.pacing import Pacer
from engine.providers import AdAccount, CampaignBudget, CampaignFigure

DAY = date(2026, 9, 1)
Handler = Callable[[httpx.Request], httpx.Response]


def _graph(rows: list[dict[str, object]], seen: list[httpx.Request]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": rows})
    return answer


def _row(campaign: str | None, spend: str, **more: object) -> dict[str, object]:
    row: dict[str, object] = {"date_start": DAY.isoformat(), "date_stop": DAY.isoformat(), "spend": spend,
                              "impressions": "1000", "clicks": "20", **more}
    if campaign is not None:
        row["campaign_id"] = campaign
    return row


async def _figures(rows: list[dict[str, object]], account: AdAccount, seen: list[httpx.Request],
                   campaigns: set[str]) -> list[CampaignFigure]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_graph(rows, seen))) as http:
        ads = meta_ads(MetaSettings())(http, "TOKEN")
        return (await ads.daily_figures(account, DAY, DAY, campaigns)).data


async def test_the_asked_campaigns_rows_become_spend_in_minor_units_then_impressions_then_clicks() -> None:
    seen: list[httpx.Request] = []
    rows = [_row("11", "12.34"), _row("22", "5.00"), _row(None, "1.00")]
    figures = await _figures(rows, AdAccount(id="act_1", currency="USD"), seen, {"11"})
    assert figures == [
        CampaignFigure(campaign="11", day=DAY, metric="spend_minor", value=1234, source="meta:11", currency="USD"),
        CampaignFigure(campaign="11", day=DAY, metric="impressions", value=1000, source="meta:11"),
        CampaignFigure(campaign="11", day=DAY, metric="clicks", value=20, source="meta:11"),
    ]
    [request] = seen
    assert request.url.path == "/v25.0/act_1/insights"
    assert (request.url.params["level"], request.url.params["time_increment"]) == ("campaign", "1")
    assert json.loads(request.url.params["time_range"]) == {"since": "2026-09-01", "until": "2026-09-01"}


@pytest.mark.parametrize(("account", "row_currency", "spend", "minor", "unit"), [
    ("JPY", None, "1500", 1500, "JPY"),  # a zero-decimal currency: offset 1
    (None, "KRW", "3000", 3000, "KRW"),  # the account's currency unknown: the row's
    (None, None, "2.50", 250, "USD"),  # neither says: USD
])
async def test_spend_is_in_the_account_currency_else_the_rows_else_usd(
        account: str | None, row_currency: str | None, spend: str, minor: int, unit: str) -> None:
    more = {} if row_currency is None else {"account_currency": row_currency}
    figures = await _figures([_row("11", spend, **more)], AdAccount(id="act_1", currency=account), [], {"11"})
    assert (figures[0].value, figures[0].currency) == (minor, unit)


async def test_spend_finer_than_the_minor_unit_is_rounded_half_even_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.meta.provider"):
        figures = await _figures([_row("11", "0.125")], AdAccount(id="act_1", currency="USD"), [], {"11"})
    assert figures[0].value == 12
    assert "finer than the minor unit" in caplog.text


async def test_accounts_ids_statuses_and_a_pause_in_metas_words() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/me/adaccounts"):
            return httpx.Response(200, json={"data": [{"id": "act_7", "currency": "EUR", "timezone_name": "UTC"}]})
        if request.url.path.endswith("/campaigns"):
            return httpx.Response(200, json={"data": [{"id": "11", "effective_status": "ACTIVE"}, {"id": "22"}]})
        return httpx.Response(200, json={"success": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        ads = meta_ads(MetaSettings())(http, "TOKEN")
        assert (await ads.ad_accounts()).data == [AdAccount(id="act_7", currency="EUR", timezone_name="UTC")]
        statuses = (await ads.campaign_statuses("act_7")).data
        assert statuses == {"11": "ACTIVE", "22": None}
        assert [ads.spending(s) for s in ("ACTIVE", "PAUSED", None)] == [True, False, False]
        assert (await ads.pause_campaign("act_7", "11")).data == "PAUSED"
    assert seen[-1].method == "POST" and seen[-1].url.path == "/v25.0/11"
    assert dict(httpx.QueryParams(seen[-1].content.decode())) == {"status": "PAUSED"}
    assert ads.account_id("7") == ads.account_id("act_7") == "act_7"


async def test_a_campaigns_budget_and_a_checked_write_in_metas_words() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[1], "daily_budget": "5000"})
        return httpx.Response(200, json={"success": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        ads = meta_ads(MetaSettings())(http, "TOKEN")
        assert (await ads.campaign_budget("act_7", "11")).data == CampaignBudget(daily_minor=5000)
        await ads.set_campaign("act_7", "11", lifetime_budget_minor=8000, validate_only=True)
        await ads.set_campaign("act_7", "11", status="ACTIVE")
    assert seen[0].url.path == "/v25.0/11" and "lifetime_budget" in seen[0].url.params["fields"]
    assert [dict(httpx.QueryParams(request.content.decode())) for request in seen[1:]] == [
        {"lifetime_budget": "8000", "execution_options": '["validate_only"]'}, {"status": "ACTIVE"}]


async def test_each_call_is_paced_in_its_meta_domains() -> None:
    async with httpx.AsyncClient() as http:
        ads = meta_ads(MetaSettings())(http, "TOKEN")
    assert ads.accounts_domains() == ("meta:app",)
    assert ads.figures_domains("act_7") == ("meta:app", "meta:insights:app", "meta:act_7:score",
                                            "meta:act_7:ads_insights", "meta:act_7:insights")
    assert ads.campaigns_domains("act_7") == ("meta:app", "meta:act_7:score", "meta:act_7:ads_management")


def test_the_ad_account_score_leaks_out_over_five_minutes_the_insights_load_each_second_the_rest_hourly() -> None:
    assert meta_window("meta:act_1:score") == 300.0
    assert meta_window("meta:insights:app") == 1.0
    assert meta_window("meta:app") == meta_window("meta:act_1:insights") == 3600.0


async def test_a_burst_of_insights_calls_does_not_hold_back_the_next_cycle() -> None:
    """Three processes' accounts poll in the same second (a restart, a rebalance) and the insights throttle
    says 4.7 % for the app on each of our 11 answers, the first call's last, so that one call seems to
    cost it all: 4.7 % is a second's load, so the next cycle's calls may go at once, not minutes later
    (each waited 440 s when the figure was read as an hour's use)."""
    pacer, header = Pacer(meta_window), {"x-fb-ads-insights-throttle": json.dumps(
        {"app_id_util_pct": 4.7, "acc_id_util_pct": 0.01, "ads_api_access_tier": "standard_access"})}
    async with httpx.AsyncClient() as http:
        ads = meta_ads(MetaSettings())(http, "TOKEN")
    domains = [ads.figures_domains(f"act_{n}") for n in range(12)]
    for n, spends in enumerate(domains[:11]):
        pacer.record_call(spends, n / 50)
    for n in [*range(1, 11), 0]:
        pacer.observe(read_usage(header, f"act_{n}").signals, 0.5 + n / 50, sent_at=n / 50)
    next_cycle = 5.0
    assert pacer.next_allowed(domains[11], next_cycle, 0.5) - next_cycle < 1.0
