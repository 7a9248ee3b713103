"""The Meta simulator's rate limits at the development tier, through HTTP, on a ``ManualClock``.

Rules: calls are spaced on the simulated clock so that only the limiter under test can refuse them
(the score limiter lets through one read per 5 s indefinitely); every assertion reads status, body and
the usage headers as a client would.
"""

from __future__ import annotations

import json

import httpx

from adapters.meta.simulator import Account, ManualClock, MetaSimulator
from tests.adapters.meta.sim import client, make

INSIGHTS_80000 = (
    "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. "
    "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
)


def first_account(sim: MetaSimulator) -> Account:
    return next(iter(sim.world.accounts.values()))


async def insights_calls(http: httpx.AsyncClient, clock: ManualClock, account: Account, n: int) -> httpx.Response:
    response = None
    for _ in range(n):
        response = await http.get(f"/v25.0/act_{account.account_id}/insights", params={"date_preset": "yesterday"})
        clock.advance(5)
    assert response is not None
    return response


async def test_exceeding_the_dev_insights_quota_gives_80000_with_usage_headers() -> None:
    sim, clock = make()  # dev tier, no active ads: 600 ads_insights calls per rolling hour
    account = first_account(sim)
    async with client(sim) as http:
        last_ok = await insights_calls(http, clock, account, 600)
        refused = await insights_calls(http, clock, account, 1)
    assert last_ok.status_code == 200
    assert refused.status_code == 400
    assert refused.json()["error"] | {"fbtrace_id": None} == {
        "message": INSIGHTS_80000,
        "type": "OAuthException",
        "code": 80000,
        "error_subcode": 2446079,
        "is_transient": False,
        "fbtrace_id": None,
    }
    buc = json.loads(refused.headers["x-business-use-case-usage"])[account.account_id][0]
    assert buc["type"] == "ads_insights" and buc["call_count"] >= 100
    # 601 calls in the window (the refusal counts too): the second oldest leaves it at 3605 s, in 605 s.
    assert buc["estimated_time_to_regain_access"] == 11
    assert buc["ads_api_access_tier"] == "development_access"
    assert {"x-ad-account-usage", "x-app-usage", "x-fb-ads-insights-throttle"} <= set(refused.headers)


async def test_calls_while_blocked_extend_the_block() -> None:
    patient, patient_clock = make()
    eager, eager_clock = make()
    for sim, clock in ((patient, patient_clock), (eager, eager_clock)):
        async with client(sim) as http:
            await insights_calls(http, clock, first_account(sim), 601)  # the 601st is refused at t=3000
    async with client(eager) as http:  # keeps calling every 5 s through the block
        await insights_calls(http, eager_clock, first_account(eager), 121)
    patient_clock.advance(eager_clock.now() - patient_clock.now())
    async with client(patient) as http:
        assert (await insights_calls(http, patient_clock, first_account(patient), 1)).status_code == 200
    async with client(eager) as http:
        still = await insights_calls(http, eager_clock, first_account(eager), 1)
    assert still.status_code == 400 and still.json()["error"]["code"] == 80000
    buc = json.loads(still.headers["x-business-use-case-usage"])[first_account(eager).account_id][0]
    assert buc["estimated_time_to_regain_access"] > 0


async def test_the_buc_header_appears_only_after_the_threshold() -> None:
    sim, clock = make(usage_header_threshold_pct=10.0)  # ads_management: 300/h, so from the 30th call
    account = first_account(sim)
    seen = []
    async with client(sim) as http:
        for _ in range(31):
            response = await http.get(f"/v25.0/act_{account.account_id}")
            seen.append("x-business-use-case-usage" in response.headers)
            assert "x-ad-account-usage" in response.headers
            clock.advance(5)
    assert seen == [False] * 29 + [True, True]
    entry = json.loads(response.headers["x-business-use-case-usage"])[account.account_id][0]
    assert entry == {
        "type": "ads_management",
        "call_count": 10,
        "total_cputime": 6,
        "total_time": 7,
        "estimated_time_to_regain_access": 0,
        "ads_api_access_tier": "development_access",
    }


async def test_the_score_limiter_blocks_at_60_points_and_recovers_after_decay() -> None:
    sim, clock = make()
    act = f"act_{first_account(sim).account_id}"
    async with client(sim) as http:
        reads = [await http.get(f"/v25.0/{act}") for _ in range(60)]
        blocked = await http.get(f"/v25.0/{act}")
        clock.advance(200)
        extended = await http.get(f"/v25.0/{act}")  # a call while blocked restarts the 300 s block
        clock.advance(299)
        still = await http.get(f"/v25.0/{act}")
        clock.advance(301)
        recovered = await http.get(f"/v25.0/{act}")
    assert all(r.status_code == 200 for r in reads)
    usage = json.loads(reads[-1].headers["x-ad-account-usage"])
    assert usage["acc_id_util_pct"] == 100.0 and usage["reset_time_duration"] == 300
    for refused in (blocked, extended, still):
        assert refused.status_code == 400
        assert (refused.json()["error"]["code"], refused.json()["error"]["error_subcode"]) == (17, 2446079)
        assert "x-ad-account-usage" in refused.headers
    assert recovered.status_code == 200


async def test_writes_cost_three_points() -> None:
    sim, _ = make()
    act = f"act_{first_account(sim).account_id}"
    form = {"name": "n", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": "[]"}
    async with client(sim) as http:
        writes = [await http.post(f"/v25.0/{act}/campaigns", data=form) for _ in range(21)]
    assert [w.status_code for w in writes] == [200] * 20 + [400]


async def test_standard_tier_quotas_are_far_larger() -> None:
    sim, _ = make(tier="standard_access", active_ads=10)
    account = first_account(sim)
    async with client(sim) as http:
        responses = [await http.get(f"/v25.0/act_{account.account_id}") for _ in range(100)]
    assert all(r.status_code == 200 for r in responses)
    usage = json.loads(responses[-1].headers["x-ad-account-usage"])
    assert usage["ads_api_access_tier"] == "standard_access" and usage["acc_id_util_pct"] < 2
    assert sim.quota.quota(account.account_id, "ads_insights") == 194_000


async def test_more_than_100_mutations_a_second_give_613_5044001() -> None:
    sim, clock = make(tier="standard_access")  # 9000 points: the score limiter stays out of the way
    act = f"act_{first_account(sim).account_id}"
    form = {"name": "n", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": "[]"}
    async with client(sim) as http:
        burst = [await http.post(f"/v25.0/{act}/campaigns", data=form) for _ in range(101)]
        clock.advance(1.5)
        later = await http.post(f"/v25.0/{act}/campaigns", data=form)
    assert [r.status_code for r in burst] == [200] * 100 + [400]
    error = burst[-1].json()["error"]
    assert (error["code"], error["error_subcode"]) == (613, 5044001)
    assert later.status_code == 200


async def test_the_app_limit_gives_code_4_with_www_authenticate() -> None:
    sim, _ = make(app_calls_per_hour=5)
    async with client(sim) as http:
        answers = [await http.get("/v25.0/me/adaccounts") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [400]
    assert answers[-1].json()["error"]["code"] == 4
    assert answers[-1].headers["www-authenticate"] == (
        'OAuth "Facebook Platform" "invalid_request" "(#4) Application request limit reached"'
    )
    assert json.loads(answers[-1].headers["x-app-usage"])["call_count"] == 120


async def test_the_insights_load_limit_gives_4_1504022_within_one_second() -> None:
    sim, clock = make(insights_app_calls_per_s=10, tier="standard_access")
    act = f"act_{first_account(sim).account_id}"
    async with client(sim) as http:
        burst = [await http.get(f"/v25.0/{act}/insights", params={"date_preset": "yesterday"}) for _ in range(11)]
        clock.advance(1.0)
        calm = await http.get(f"/v25.0/{act}/insights", params={"date_preset": "yesterday"})
    assert [r.status_code for r in burst] == [200] * 10 + [400]
    assert (burst[-1].json()["error"]["code"], burst[-1].json()["error"]["error_subcode"]) == (4, 1504022)
    assert json.loads(burst[-1].headers["x-fb-ads-insights-throttle"])["app_id_util_pct"] == 100.0
    assert calm.status_code == 200
