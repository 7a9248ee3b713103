"""Batch calls, async report runs, scopes and the trio-driven clock of the Meta simulator, through HTTP.

Rules: a ``ManualClock`` drives report progress; the one ``SimClock`` test uses ``autojump_clock`` and
``speed`` so that one trio second is one simulated hour.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import trio
from trio.testing import MockClock

import adapters.meta.simulator as simulator
from adapters.meta.simulator import Account, FaultConfig, MetaSimulator, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from tests.adapters.meta.sim import client, make

RANGE = json.dumps({"since": "2026-08-01", "until": "2026-08-20"})


def first_account(sim: MetaSimulator) -> Account:
    return next(iter(sim.world.accounts.values()))


async def test_batch_items_answer_separately_and_each_counts() -> None:
    sim, _ = make(usage_header_threshold_pct=0.0)
    act = f"act_{first_account(sim).account_id}"
    items = [{"method": "GET", "relative_url": f"v25.0/{act}?fields=currency"}] * 3
    items.append({"method": "GET", "relative_url": "v25.0/act_1"})
    async with client(sim) as http:
        response = await http.post("/", data={"batch": json.dumps(items)})
        too_many = await http.post("/", data={"batch": json.dumps(items * 13)})
    answers = response.json()
    assert [a["code"] for a in answers] == [200, 200, 200, 400]
    assert json.loads(answers[0]["body"])["currency"] == first_account(sim).currency
    headers = {h["name"]: h["value"] for h in answers[2]["headers"]}
    usage = json.loads(headers["x-business-use-case-usage"])[first_account(sim).account_id][0]
    assert usage["call_count"] == 1  # 3 of 300 calls: every item counted
    assert too_many.status_code == 400 and too_many.json()["error"]["type"] == "GraphBatchException"
    assert len(sim.requests) == 4


async def test_report_run_progresses_and_returns_the_sync_rows() -> None:
    sim, clock = make()
    act = f"act_{first_account(sim).account_id}"
    params = {"level": "campaign", "time_increment": "1", "time_range": RANGE, "fields": "campaign_id,spend"}
    async with client(sim) as http:
        run_id = (await http.post(f"/v25.0/{act}/insights", data=params)).json()["report_run_id"]
        statuses = []
        for _ in range(4):
            body = (await http.get(f"/v25.0/{run_id}")).json()
            statuses.append((body["async_status"], body["async_percent_completion"]))
            clock.advance(10)
        rows: list[object] = []
        url: str | None = f"/v25.0/{run_id}/insights?limit=7"
        while url:
            page = (await http.get(url)).json()
            rows += page["data"]
            url = page["paging"].get("next")
        sync = (await http.get(f"/v25.0/{act}/insights", params={**params, "limit": "500"})).json()["data"]
    assert statuses == [("Job Not Started", 0), ("Job Running", 33), ("Job Running", 66), ("Job Completed", 100)]
    assert rows == sync and len(rows) > 7


async def test_a_failed_report_run_carries_the_v25_error_fields() -> None:
    sim, clock = make(faults=FaultConfig(report_failure_rate=1.0))
    act = f"act_{first_account(sim).account_id}"
    async with client(sim) as http:
        run_id = (await http.post(f"/v25.0/{act}/insights", data={"time_range": RANGE})).json()["report_run_id"]
        early = await http.get(f"/v25.0/{run_id}/insights")
        clock.advance(60)
        status = (await http.get(f"/v25.0/{run_id}")).json()
    assert early.status_code == 400
    assert status["async_status"] == "Job Failed"
    assert (status["error_code"], status["error_subcode"]) == (-2, 2490547)


async def test_a_token_without_ads_management_cannot_write() -> None:
    sim, _ = make()
    act = f"act_{first_account(sim).account_id}"
    async with client(sim, token=None) as http:
        dialog = await http.get(
            "/v25.0/dialog/oauth",
            params={"client_id": "1234567890", "redirect_uri": "https://x.example/cb", "scope": "ads_read"},
        )
        code = parse_qs(urlsplit(dialog.headers["location"]).query)["code"][0]
        token = (
            await http.get(
                "/v25.0/oauth/access_token",
                params={
                    "client_id": "1234567890",
                    "client_secret": "simulator-secret",
                    "redirect_uri": "https://x.example/cb",
                    "code": code,
                },
            )
        ).json()["access_token"]
        read = await http.get(f"/v25.0/{act}/campaigns", params={"access_token": token})
        write = await http.post(
            f"/v25.0/{act}/campaigns",
            data={"access_token": token, "name": "n", "objective": "OUTCOME_SALES", "special_ad_categories": "[]"},
        )
    assert read.status_code == 200
    assert write.status_code == 400 and write.json()["error"]["code"] == 200


async def test_simulated_time_runs_at_speed_on_the_trio_clock(autojump_clock: MockClock) -> None:
    sim = MetaSimulator(SimulatorConfig(speed=3600.0))  # one trio second is one simulated hour
    act = f"act_{first_account(sim).account_id}"
    async with client(sim) as http:
        before = (await http.get(f"/v25.0/{act}/insights", params={"date_preset": "today"})).json()["data"]
        await trio.sleep(4)
        after = (await http.get(f"/v25.0/{act}/insights", params={"date_preset": "today"})).json()["data"]
    assert sim.clock.now() - parse_start(sim.config.start) == 4 * 3600
    assert int(after[0]["impressions"]) > int(before[0]["impressions"])


def test_package_exports_are_pinned() -> None:
    assert simulator.__all__ == [
        "Account",
        "Campaign",
        "Clock",
        "DayMetrics",
        "FaultConfig",
        "LoggedRequest",
        "ManualClock",
        "MetaSimulator",
        "ServedSimulator",
        "SimClock",
        "SimulatorConfig",
        "World",
        "format_spend",
        "serve_meta_simulator",
    ]
