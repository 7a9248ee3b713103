"""`/v1/meta/*` and the Meta push of campaign launch and pause, through Quart's test client against a real
PostgreSQL and the Meta simulator (``simulators.meta``), connected through our real OAuth routes.

Rules of this file: expected numbers come from the simulator (``world`` objects, ``World.truth``), never
hard-coded. Simulated time is trio time (``SimClock``), which ``MockClock`` moves only when a test jumps
it: waits inside a request (async report polling) run under ``_jumping``, which jumps one second whenever
every task is blocked. A test that needs another simulator swaps ``simulators.meta`` before connecting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from adapters.meta.simulator import Account, MetaSimulator, format_spend
from engine.store.database import Database
from tests.helpers.factories import create_track
from tests.http_api.conftest import EPOCH, MakeMember, Member, Simulators, meta_simulator
from tests.http_api.connect import connect
from tests.http_api.paging import assert_paged
from tests.http_api.post import post_created

OURS = {
    "name": "Summer Release", "budget": 5000, "currency": "USD", "objective": "streams",
    "startDate": "2026-06-01T00:00:00Z", "endDate": "2027-06-30T23:59:59Z",
}  # fmt: skip
# The simulators start at the API's EPOCH (2027-01-15); the seeded campaigns began about 60 days before.
# Ours runs on past it: a campaign whose end date has passed cannot launch.
SINCE, UNTIL = date(2027, 1, 1), date(2027, 1, 7)
LONG_SINCE, LONG_UNTIL = date(2026, 9, 1), date(2027, 1, 10)  # 132 days: more than SYNC_MAX_DAYS


def _accounts(sims: Simulators) -> list[Account]:
    return list(sims.meta.world.accounts.values())  # profiles in order: USD first, JPY second


def _act(account: Account) -> str:
    return f"act_{account.account_id}"


async def _connected(client: Client, sims: Simulators, make_member: MakeMember) -> Member:
    member = await make_member()
    await connect(client, sims, "meta", member)
    return member


async def _ours(client: Client, member: Member, db: Database | None = None) -> dict[str, Any]:
    fields: dict[str, object] = {}
    if db is not None:  # a track, so that it can launch
        fields["trackId"] = str(await create_track(db, member.org_id, title="Summer Vibes", artist="Ana"))
    return await post_created(client, member.headers, "/v1/campaigns", OURS | fields)


async def _link(client: Client, member: Member, ours: dict[str, Any], account: Account, **extra: object
                ) -> tuple[int, Any]:
    body = {"campaignId": ours["id"], "adAccountId": _act(account), "objective": "OUTCOME_AWARENESS",
            "budget": 5000, "bidStrategy": "LOWEST_COST_WITHOUT_CAP"} | extra
    response = await client.post("/v1/meta/campaigns", headers=member.headers, json=body)
    return response.status_code, await response.get_json()


async def _jumping(mock_clock: trio.testing.MockClock, call: Callable[[], Awaitable[Any]]) -> Any:
    """``await call()`` while moving trio time (and so the simulator's) one second at a time."""
    result: list[Any] = []
    async with trio.open_nursery() as nursery:
        async def run() -> None:
            result.append(await call())
            nursery.cancel_scope.cancel()

        nursery.start_soon(run)
        while True:
            await trio.testing.wait_all_tasks_blocked(0.01)
            mock_clock.jump(1)
    return result[0]


def _truth_rows(sim: MetaSimulator, campaign_id: str, since: date, until: date,
                breakdowns: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[int, int, str]]:
    """(day, *bucket) → (impressions, clicks, spend) as Meta would report them; days without delivery left out."""
    campaign = sim.world.campaigns[campaign_id]
    offset = sim.world.accounts[campaign.account_id].offset
    rows, day = {}, since
    while day <= until:
        for key, metrics in sim.world.truth(campaign_id, day, breakdowns).items():
            if metrics.impressions or metrics.spend_minor:
                rows[(day.isoformat(), *key)] = (metrics.impressions, metrics.clicks,
                                                 format_spend(metrics.spend_minor, offset))
        day += timedelta(days=1)
    return rows


def _got_rows(body: dict[str, Any], breakdowns: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[int, int, str]]:
    return {(row["date"], *(row[name] for name in breakdowns)): (row["impressions"], row["clicks"], row["spend"])
            for row in body["rows"]}


def _active_seeded(sims: Simulators, account: Account) -> str:
    return next(c.id for c in sims.meta.world.campaigns_of(account) if c.status == "ACTIVE")


async def test_accounts_and_campaigns_match_the_simulator(client: Client, simulators: Simulators,
                                                          make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    accounts = await client.get("/v1/meta/accounts", headers=member.headers)
    assert accounts.status_code == 200, await accounts.get_json()
    got = {a["id"]: a for a in (await accounts.get_json())["accounts"]}
    world = simulators.meta.world
    assert set(got) == {_act(a) for a in _accounts(simulators)}
    for account in _accounts(simulators):
        shown = got[_act(account)]
        places = 0 if account.offset == 1 else 2
        spent = f"{world.amount_spent(account) / account.offset:.{places}f}"
        assert (shown["currency"], shown["timezone"], shown["status"], shown["amountSpent"]) == (
            account.currency, account.timezone_name, "ACTIVE", spent)

    jpy = _accounts(simulators)[1]
    listed = await client.get(f"/v1/meta/campaigns?adAccountId={_act(jpy)}", headers=member.headers)
    campaigns = (await listed.get_json())["campaigns"]
    assert {c["id"] for c in campaigns} == {c.id for c in world.campaigns_of(jpy)}
    for shown in campaigns:
        truth = world.campaigns[shown["id"]]
        assert (shown["dailyBudget"], shown["currency"], shown["effectiveStatus"], shown["campaignId"]) == (
            str(truth.daily_budget), "JPY", truth.status, None)  # yen: major units are minor units
    paused = await client.get("/v1/meta/campaigns?effectiveStatus=PAUSED", headers=member.headers)
    assert {c["id"] for c in (await paused.get_json())["campaigns"]} == {
        c.id for c in world.campaigns.values() if c.status == "PAUSED"}
    bad = await client.get("/v1/meta/campaigns?effectiveStatus=RUNNING", headers=member.headers)
    assert bad.status_code == 400
    await assert_paged(client, "/v1/meta/accounts", member.headers, "accounts", total=len(world.accounts))
    await assert_paged(client, "/v1/meta/campaigns", member.headers, "campaigns", total=len(world.campaigns))


async def test_create_in_usd_and_jpy_links_our_campaign(client: Client, simulators: Simulators,
                                                        make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    usd, jpy = _accounts(simulators)[:2]
    first, second = await _ours(client, member), await _ours(client, member)
    status, created = await _link(client, member, first, usd, budget="50.25", specialAdCategories=["HOUSING"])
    assert status == 201, created
    meta = simulators.meta.world.campaigns[created["metaCampaign"]["id"]]
    # Created with the body's 50.25, then given our campaign's budget (test_meta_budget.py has the rules).
    assert (meta.lifetime_budget, meta.daily_budget, meta.status, meta.special_ad_categories) == (
        OURS["budget"] * 100, None, "PAUSED", ["HOUSING"])
    assert (created["campaignId"], created["metaCampaign"]["lifetimeBudget"]) == (first["id"], "5000.00")

    refused = await _link(client, member, second, jpy, budget="3000.5")
    assert refused[0] == 400 and refused[1]["error"]["details"][0]["field"] == "budget"
    status, yen = await _link(client, member, second, jpy, budget=3000, budgetType="daily")
    assert status == 201, yen
    assert simulators.meta.world.campaigns[yen["metaCampaign"]["id"]].daily_budget == 3000  # offset 1

    shown = await (await client.get(f"/v1/campaigns/{first['id']}", headers=member.headers)).get_json()
    assert (shown["metaCampaignId"], shown["metaAdAccountId"], shown["metaEffectiveStatus"]) == (
        meta.id, _act(usd), "PAUSED")
    listed = await (await client.get(f"/v1/meta/campaigns?adAccountId={_act(usd)}", headers=member.headers)
                    ).get_json()
    assert {c["id"]: c["campaignId"] for c in listed["campaigns"]}[meta.id] == first["id"]

    again = await _link(client, member, first, usd)
    assert again[0] == 409 and again[1]["error"]["code"] == "CONFLICT"
    stranger = await make_member()
    theirs = await _ours(client, stranger)
    assert (await _link(client, member, theirs, usd))[0] == 404
    assert (await _link(client, member, await _ours(client, member), usd, bidStrategy="COST_CAP"))[0] == 400
    assert (await _link(client, member, await _ours(client, member), usd, objective="LINK_CLICKS"))[0] == 400
    unlinked = await (await client.get(f"/v1/campaigns/{theirs['id']}", headers=stranger.headers)).get_json()
    assert unlinked["metaCampaignId"] is None and unlinked["metaEffectiveStatus"] is None


async def test_patch_status_and_budget_reach_the_simulator(client: Client, simulators: Simulators,
                                                           make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    usd = _accounts(simulators)[0]
    ours = await _ours(client, member)
    meta_id = (await _link(client, member, ours, usd))[1]["metaCampaign"]["id"]
    patched = await client.patch(f"/v1/meta/campaigns/{meta_id}", headers=member.headers,
                                 json={"status": "ACTIVE", "lifetimeBudget": "75.10", "name": "Renamed"})
    assert patched.status_code == 200, await patched.get_json()
    meta = simulators.meta.world.campaigns[meta_id]
    assert (meta.status, meta.lifetime_budget, meta.name) == ("ACTIVE", 7510, "Renamed")
    body = await patched.get_json()
    assert (body["status"], body["lifetimeBudget"], body["campaignId"]) == ("ACTIVE", "75.10", ours["id"])
    shown = await (await client.get(f"/v1/campaigns/{ours['id']}", headers=member.headers)).get_json()
    assert shown["metaEffectiveStatus"] == "ACTIVE"

    seeded = _active_seeded(simulators, _accounts(simulators)[1])  # not linked: found through the accounts
    paused = await client.patch(f"/v1/meta/campaigns/{seeded}", headers=member.headers, json={"status": "PAUSED"})
    assert paused.status_code == 200 and simulators.meta.world.campaigns[seeded].status == "PAUSED"
    too_fine = await client.patch(f"/v1/meta/campaigns/{seeded}", headers=member.headers,
                                  json={"dailyBudget": "10.5"})  # JPY has no decimals
    assert too_fine.status_code == 400 and (await too_fine.get_json())["error"]["details"][0]["field"] == "dailyBudget"
    missing = await client.patch("/v1/meta/campaigns/999", headers=member.headers, json={"status": "PAUSED"})
    assert missing.status_code == 404
    empty = await client.patch(f"/v1/meta/campaigns/{seeded}", headers=member.headers, json={})
    assert empty.status_code == 400


async def test_short_range_insights_equal_the_truth_with_breakdowns(client: Client, simulators: Simulators,
                                                                    make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[1])
    path = f"/v1/meta/campaigns/{campaign_id}/insights?since={SINCE}&until={UNTIL}"
    plain = await client.get(path, headers=member.headers)
    assert plain.status_code == 200, await plain.get_json()
    body = await plain.get_json()
    assert body["source"] == "sync" and body["reportRunId"] is None and len(body["rows"]) == 7
    assert _got_rows(body) == _truth_rows(simulators.meta, campaign_id, SINCE, UNTIL)
    assert all(row["currency"] == "JPY" and row["actions"] for row in body["rows"])
    for row in body["rows"]:  # the rates are Meta's, consistent with its own counts
        assert abs(float(row["ctr"]) - 100 * row["clicks"] / row["impressions"]) < 1e-5
        assert abs(float(row["cpm"]) - 1000 * float(row["spend"]) / row["impressions"]) < 1e-3

    dims = ("age", "gender", "country")
    split = await (await client.get(f"{path}&breakdowns=age,gender,country", headers=member.headers)).get_json()
    assert len(split["rows"]) > 500  # more than one page of Meta's
    assert _got_rows(split, dims) == _truth_rows(simulators.meta, campaign_id, SINCE, UNTIL, dims)


async def test_insights_without_a_period_are_meta_s_last_30_days_and_say_so(
        client: Client, simulators: Simulators, make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[1])
    response = await client.get(f"/v1/meta/campaigns/{campaign_id}/insights", headers=member.headers)
    assert response.status_code == 200, await response.get_json()
    body = await response.get_json()
    until = datetime.fromtimestamp(EPOCH + trio.current_time(), UTC).date()  # the API's today
    since = until - timedelta(days=29)
    assert (body["since"], body["until"]) == (since.isoformat(), until.isoformat())
    assert _got_rows(body) == _truth_rows(simulators.meta, campaign_id, since, until)


async def test_insights_ranges_are_checked(client: Client, simulators: Simulators,
                                           make_member: MakeMember) -> None:
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[0])

    async def field(query: str) -> str:
        response = await client.get(f"/v1/meta/campaigns/{campaign_id}/insights?{query}", headers=member.headers)
        assert response.status_code == 400, await response.get_json()
        return str((await response.get_json())["error"]["details"][0]["field"])

    assert await field(f"since={UNTIL}&until={SINCE}") == "until"
    assert await field("since=2023-11-01&until=2023-12-01") == "since"  # the API's today is 2027-01-15
    assert await field(f"since={SINCE}&until={UNTIL}&breakdowns=region") == "breakdowns"
    assert simulators.meta.requests == [] or all("insights" not in r.path for r in simulators.meta.requests)


async def test_a_long_range_goes_through_an_async_report_run(client: Client, simulators: Simulators,
                                                             make_member: MakeMember,
                                                             mock_clock: trio.testing.MockClock) -> None:
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[0])
    since, until = LONG_SINCE, LONG_UNTIL
    path = f"/v1/meta/campaigns/{campaign_id}/insights?since={since}&until={until}&breakdowns=gender"
    response = await _jumping(mock_clock, lambda: client.get(path, headers=member.headers))
    assert response.status_code == 200, await response.get_json()
    body = await response.get_json()
    assert body["source"] == "async" and body["reportRunId"] in simulators.meta.reports.runs
    assert len(body["rows"]) > 100
    assert _got_rows(body, ("gender",)) == _truth_rows(simulators.meta, campaign_id, since, until, ("gender",))
    calls = [(r.method, r.path.split("/", 2)[-1]) for r in simulators.meta.requests]
    run = body["reportRunId"]
    assert ("POST", f"{campaign_id}/insights") in calls and ("GET", f"{run}/insights") in calls
    assert calls.count(("GET", run)) >= 3  # polled while Job Not Started / Running
    assert ("GET", f"{campaign_id}/insights") not in calls  # no sync attempt for a long range


async def test_meta_asking_to_reduce_the_data_switches_to_the_async_run(
        client: Client, simulators: Simulators, make_member: MakeMember,
        mock_clock: trio.testing.MockClock) -> None:
    simulators.meta = meta_simulator(insights_max_rows=20)
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[0])
    path = f"/v1/meta/campaigns/{campaign_id}/insights?since={SINCE}&until={UNTIL}&breakdowns=age"
    response = await _jumping(mock_clock, lambda: client.get(path, headers=member.headers))
    body = await response.get_json()
    assert response.status_code == 200 and body["source"] == "async", body
    assert _got_rows(body, ("age",)) == _truth_rows(simulators.meta, campaign_id, SINCE, UNTIL, ("age",))
    sync = [r for r in simulators.meta.requests if r.method == "GET" and r.path.endswith(f"{campaign_id}/insights")]
    assert [r.status for r in sync] == [400]  # 100/1487534, then the report run


async def test_a_run_past_the_deadline_answers_202_and_can_be_resumed(
        client: Client, simulators: Simulators, make_member: MakeMember,
        mock_clock: trio.testing.MockClock) -> None:
    simulators.meta = meta_simulator(report_run_s=200)
    member = await _connected(client, simulators, make_member)
    campaign_id = _active_seeded(simulators, _accounts(simulators)[0])
    path = f"/v1/meta/campaigns/{campaign_id}/insights?since={LONG_SINCE}&until={LONG_UNTIL}"
    pending = await _jumping(mock_clock, lambda: client.get(path, headers=member.headers))
    assert pending.status_code == 202, await pending.get_json()
    body = await pending.get_json()
    assert body["status"] == "running" and pending.headers["Retry-After"] == "30"
    assert 0 <= body["percentComplete"] < 100
    mock_clock.jump(150)
    done = await client.get(f"{path}&reportRunId={body['reportRunId']}", headers=member.headers)
    assert done.status_code == 200, await done.get_json()
    result = await done.get_json()
    assert result["reportRunId"] == body["reportRunId"] and len(simulators.meta.reports.runs) == 1
    assert _got_rows(result) == _truth_rows(simulators.meta, campaign_id, LONG_SINCE, LONG_UNTIL)
    other = _active_seeded(simulators, _accounts(simulators)[1])
    wrong = await client.get(f"/v1/meta/campaigns/{other}/insights?since={LONG_SINCE}&until={LONG_UNTIL}"
                             f"&reportRunId={body['reportRunId']}", headers=member.headers)
    assert wrong.status_code == 400


async def test_launch_and_pause_of_a_linked_campaign_drive_meta(client: Client, simulators: Simulators,
                                                               make_member: MakeMember, db: Database) -> None:
    member = await _connected(client, simulators, make_member)
    ours = await _ours(client, member, db)
    meta_id = (await _link(client, member, ours, _accounts(simulators)[0]))[1]["metaCampaign"]["id"]
    meta = simulators.meta.world.campaigns[meta_id]
    launched = await client.post(f"/v1/campaigns/{ours['id']}/launch", headers=member.headers)
    assert launched.status_code == 200, await launched.get_json()
    assert meta.status == "ACTIVE"
    assert (await launched.get_json())["metaEffectiveStatus"] == "ACTIVE"
    paused = await client.post(f"/v1/campaigns/{ours['id']}/pause", headers=member.headers)
    assert paused.status_code == 200 and meta.status == "PAUSED"
    assert (await paused.get_json())["status"] == "paused"
    again = await client.post(f"/v1/campaigns/{ours['id']}/pause", headers=member.headers)
    assert again.status_code == 409 and meta.history[-1][1] == "PAUSED" and len(meta.history) == 3


async def test_a_meta_failure_on_launch_leaves_our_status(client: Client, simulators: Simulators,
                                                          make_member: MakeMember, db: Database) -> None:
    member = await _connected(client, simulators, make_member)
    ours = await _ours(client, member, db)
    meta_id = (await _link(client, member, ours, _accounts(simulators)[0]))[1]["metaCampaign"]["id"]
    meta = simulators.meta.world.campaigns[meta_id]
    simulators.meta.world.update_campaign(meta, status="DELETED")  # deleted in Ads Manager meanwhile
    refused = await client.post(f"/v1/campaigns/{ours['id']}/launch", headers=member.headers)
    assert refused.status_code == 502
    error = (await refused.get_json())["error"]
    assert error["code"] == "INTEGRATION_ERROR" and "Edit failure" in error["message"]
    shown = await (await client.get(f"/v1/campaigns/{ours['id']}", headers=member.headers)).get_json()
    assert (shown["status"], shown["launchedAt"], shown["metaEffectiveStatus"]) == ("draft", None, "PAUSED")


async def test_not_connected_is_409_and_viewers_only_read(client: Client, simulators: Simulators,
                                                          make_member: MakeMember) -> None:
    owner = await make_member()
    lonely = await client.get("/v1/meta/accounts", headers=owner.headers)
    assert lonely.status_code == 409 and (await lonely.get_json())["error"]["code"] == "INTEGRATION_ERROR"
    await connect(client, simulators, "meta", owner)
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    assert (await client.get("/v1/meta/accounts", headers=viewer.headers)).status_code == 200
    assert (await client.get("/v1/meta/campaigns", headers=viewer.headers)).status_code == 200
    ours = await _ours(client, owner)
    assert (await _link(client, viewer, ours, _accounts(simulators)[0]))[0] == 403
    seeded = _active_seeded(simulators, _accounts(simulators)[0])
    patch = await client.patch(f"/v1/meta/campaigns/{seeded}", headers=viewer.headers, json={"status": "PAUSED"})
    assert patch.status_code == 403 and simulators.meta.world.campaigns[seeded].status == "ACTIVE"
