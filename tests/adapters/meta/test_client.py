"""MetaClient against the Meta simulator over real HTTP: accounts, campaigns, paging, errors, usage signals.

Rules: the simulator is reached through ``httpx.ASGITransport`` (in-process, no sockets) on a
``ManualClock``, except in the one served-port test; expected values come from the simulator's world,
never from the client; each test builds its own simulator.
"""

from __future__ import annotations

from typing import Literal

import httpx
import pytest
import trio

from adapters.meta.client import MetaClient
from adapters.meta.simulator import (
    Account,
    FaultConfig,
    MetaSimulator,
    SimulatorConfig,
    serve_meta_simulator,
)
from engine.provider import AuthExpiredError, FatalProviderError, RateLimitedError, RetryableError
from tests.adapters.meta.sim import TOKEN, make

BASE = "https://graph.facebook.com"


def http_for(sim: MetaSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim))


def act(account: Account) -> str:
    return f"act_{account.account_id}"


def first_account(sim: MetaSimulator) -> Account:
    return next(iter(sim.world.accounts.values()))


async def test_ad_accounts_lists_every_account_with_money_in_minor_units() -> None:
    sim, _ = make()
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).ad_accounts()
    assert {a.id for a in result.data} == {act(a) for a in sim.world.accounts.values()}
    for got in result.data:
        account = sim.world.accounts[got.id.removeprefix("act_")]
        assert (got.currency, got.timezone_name, got.account_status) == (account.currency, account.timezone_name, 1)
        assert got.amount_spent == sim.world.amount_spent(account)
    assert any(s.domain == "meta:app" for s in result.signals)


async def test_account_reads_one_account_and_its_score_signal() -> None:
    sim, _ = make()
    account = first_account(sim)
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).account(act(account))
    assert result.data.id == act(account) and result.data.name == account.name
    assert result.data.amount_spent == sim.world.amount_spent(account)
    assert f"meta:{act(account)}:score" in {s.domain for s in result.signals}


async def test_campaigns_follow_cursor_paging_to_the_end() -> None:
    sim, _ = make(campaigns_per_account=230, accounts=1)
    account = first_account(sim)
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).campaigns(act(account))
    assert sorted(c.id for c in result.data) == sorted(c.id for c in sim.world.campaigns_of(account))
    assert len([r for r in sim.requests if r.path.endswith("/campaigns")]) == 3  # 100 + 100 + 30
    budgets = {c.id: c.daily_budget for c in sim.world.campaigns_of(account)}
    assert all(c.daily_budget == budgets[c.id] and isinstance(c.daily_budget, int) for c in result.data)


async def test_campaigns_survive_empty_pages_that_still_have_next() -> None:
    sim, _ = make(campaigns_per_account=12, accounts=1, faults=FaultConfig(empty_page_rate=0.9))
    account = first_account(sim)
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).campaigns(act(account))
    assert sorted(c.id for c in result.data) == sorted(c.id for c in sim.world.campaigns_of(account))
    assert len([r for r in sim.requests if r.path.endswith("/campaigns")]) > 1  # an empty page came first


async def test_campaigns_filter_by_effective_status() -> None:
    sim, _ = make(campaigns_per_account=8)
    account = first_account(sim)
    async with http_for(sim) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).campaigns(act(account), effective_status=["PAUSED"])
    paused = {c.id for c in sim.world.campaigns_of(account) if c.status == "PAUSED"}
    assert paused and {c.id for c in result.data} == paused
    assert all(c.effective_status == "PAUSED" for c in result.data)


async def test_create_then_update_a_campaign() -> None:
    sim, _ = make()
    account = first_account(sim)
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        created = await client.create_campaign(
            act(account), name="Single launch", objective="OUTCOME_TRAFFIC", status="PAUSED",
            special_ad_categories=[], daily_budget_minor=5000,
        )
        updated = await client.update_campaign(created.data, status="ACTIVE", daily_budget_minor=7500,
                                               act_id=act(account))
        listed = await client.campaigns(act(account))
    campaign = sim.world.campaigns[created.data]
    assert (campaign.name, campaign.status, campaign.daily_budget) == ("Single launch", "ACTIVE", 7500)
    assert updated.data is True
    mine = next(c for c in listed.data if c.id == created.data)
    assert (mine.daily_budget, mine.lifetime_budget, mine.objective) == (7500, None, "OUTCOME_TRAFFIC")
    assert mine.created_time is not None


async def test_create_with_a_lifetime_budget_and_argument_checks() -> None:
    sim, _ = make()
    account = first_account(sim)
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        created = await client.create_campaign(act(account), name="Tour", objective="OUTCOME_AWARENESS",
                                               status="ACTIVE", special_ad_categories=[],
                                               lifetime_budget_minor=90000)
        with pytest.raises(ValueError, match="not both"):
            await client.create_campaign(act(account), name="x", objective="OUTCOME_AWARENESS", status="ACTIVE",
                                         special_ad_categories=[], daily_budget_minor=1, lifetime_budget_minor=1)
        with pytest.raises(ValueError, match="at least one"):
            await client.update_campaign(created.data)
    assert sim.world.campaigns[created.data].lifetime_budget == 90000


async def test_missing_special_ad_categories_is_fatal() -> None:
    sim, _ = make()
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        with pytest.raises(FatalProviderError, match="special_ad_categories"):
            await client.create_campaign(act(first_account(sim)), name="No categories", objective="OUTCOME_TRAFFIC",
                                         status="PAUSED", special_ad_categories=None)


async def test_an_unknown_token_is_auth_expired() -> None:
    sim, _ = make()
    async with http_for(sim) as http:
        with pytest.raises(AuthExpiredError, match="190/467"):
            await MetaClient(http, "EAAB-not-a-token", base_url=BASE).ad_accounts()


async def test_a_token_provider_is_asked_on_every_request() -> None:
    """An expired token (190/463) is covered in test_oauth.py, with a real short-lived token."""
    sim, _ = make(campaigns_per_account=150, accounts=1)
    asked: list[int] = []

    async def provider() -> str:
        asked.append(1)
        return TOKEN

    async with http_for(sim) as http:
        result = await MetaClient(http, provider, base_url=BASE).campaigns(act(first_account(sim)))
    assert len(result.data) == 150 and len(asked) == 2  # two pages, two requests


async def test_over_the_dev_tier_buc_quota_is_rate_limited_in_the_buc_domain() -> None:
    sim, clock = make(campaigns_per_account=1)
    account = first_account(sim)
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        for _ in range(300):  # 300 ads_management calls an hour on the development tier
            await client.campaigns(act(account))
            clock.advance(5)  # the score decays 1 point per 5 s: stay under the score limit
        with pytest.raises(RateLimitedError) as caught:
            await client.campaigns(act(account))
    error = caught.value
    assert error.domain == f"meta:{act(account)}:ads_management"
    assert 0 < error.reset_after <= 3600
    buc = next(s for s in error.signals if s.domain == error.domain)
    assert buc.utilization >= 100 and buc.regain_after == error.reset_after


async def test_usage_signals_are_returned_once_past_the_header_threshold() -> None:
    sim, clock = make(campaigns_per_account=1)  # BUC header from 10 % of 300 calls
    account = first_account(sim)
    domain = f"meta:{act(account)}:ads_management"
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        early = await client.campaigns(act(account))
        for _ in range(30):
            later = await client.campaigns(act(account))
            clock.advance(5)
    assert domain not in {s.domain for s in early.signals}
    signal = next(s for s in later.signals if s.domain == domain)
    assert signal.utilization == 10


async def test_a_truncated_body_is_retryable_and_a_network_failure_too() -> None:
    sim, _ = make(faults=FaultConfig(malformed_rate=1.0))
    async with http_for(sim) as http:
        with pytest.raises(RetryableError, match="undecodable"):
            await MetaClient(http, TOKEN, base_url=BASE).ad_accounts()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(RetryableError, match="ConnectError"):
            await MetaClient(http, TOKEN, base_url=BASE).ad_accounts()


async def test_against_a_served_simulator(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        served = await nursery.start(serve_meta_simulator, SimulatorConfig(seed=5), "127.0.0.1", 0)
        async with httpx.AsyncClient() as http:
            client = MetaClient(http, TOKEN, base_url=served.url)
            accounts = await client.ad_accounts()
            campaigns = await client.campaigns(accounts.data[0].id)
    assert len(accounts.data) == 6 and len(campaigns.data) == 4
    nursery.cancel_scope.cancel()


async def test_minimum_budgets_of_an_account() -> None:
    sim, _ = make()
    jpy = next(a for a in sim.world.accounts.values() if a.currency == "JPY")
    async with http_for(sim) as http:
        minimums = (await MetaClient(http, TOKEN, base_url=BASE).minimum_budgets(act(jpy))).data
    assert (minimums.currency, minimums.min_daily_budget_high_freq, minimums.min_daily_budget_low_freq,
            minimums.min_daily_budget_imp, minimums.min_daily_budget_video_views) == ("JPY", 750, 6000, 150, 150)


async def test_refused_budgets_are_fatal_with_metas_words_and_change_nothing() -> None:
    sim, _ = make()
    account = next(a for a in sim.world.accounts.values() if a.currency == "USD")
    seeded = next(c for c in sim.world.campaigns_of(account) if c.status == "ACTIVE")
    budget = seeded.daily_budget
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        with pytest.raises(FatalProviderError, match=r"\(#100\): Invalid parameter \(Budget Is Too Low: The daily"
                                                     r" budget for this campaign must be at least \d\.00 USD\.\)"):
            await client.update_campaign(seeded.id, daily_budget_minor=99, act_id=act(account))
        with pytest.raises(FatalProviderError, match=r"\(#100/1885261\): Invalid parameter \(Budget Too High"):
            await client.update_campaign(seeded.id, lifetime_budget_minor=10**8 + 1, act_id=act(account))
        with pytest.raises(FatalProviderError, match="already spent"):
            await client.update_campaign(seeded.id, lifetime_budget_minor=60_000, act_id=act(account),
                                         validate_only=True)
        checked = await client.update_campaign(seeded.id, status="PAUSED", act_id=act(account), validate_only=True)
    assert checked.data is True
    assert (seeded.daily_budget, seeded.lifetime_budget, seeded.status) == (budget, None, "ACTIVE")


@pytest.mark.parametrize(("code", "error"), [(2, RetryableError), (100, FatalProviderError)])
async def test_a_refused_write_is_classified_by_its_code(code: Literal[2, 100], error: type[Exception]) -> None:
    sim, _ = make(faults=FaultConfig(refused_writes=1, write_error_code=code))
    account = first_account(sim)
    seeded = next(c for c in sim.world.campaigns_of(account) if c.status == "ACTIVE")
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        with pytest.raises(error) as refused:
            await client.update_campaign(seeded.id, status="PAUSED", act_id=act(account))
        assert seeded.status == "ACTIVE"
        again = await client.update_campaign(seeded.id, status="PAUSED", act_id=act(account))
    assert type(refused.value) is error and f"(#{code})" in str(refused.value)
    assert again.data is True and seeded.status == "PAUSED"


async def test_revoking_permissions_ends_every_token_of_the_user() -> None:
    sim, _ = make()
    async with http_for(sim) as http:
        client = MetaClient(http, TOKEN, base_url=BASE)
        assert (await client.ad_accounts()).data
        assert (await client.revoke_permissions()).data is True
        with pytest.raises(AuthExpiredError):  # 190/467: Meta forgot the grant
            await client.ad_accounts()
    assert [(r.method, r.path) for r in sim.requests if r.method == "DELETE"] == [("DELETE", "/v25.0/me/permissions")]
