"""The sandbox demo as a person meets it: ``songtrack run`` with no provider credentials and a webhook URL
for the demo label, nothing else. Within a minute of start the demo campaign's spend on the Meta simulator
crosses its thresholds and a signed ``budget.warning`` reaches the consumer, then, at its budget, its guardrail
pauses it (a signed ``campaign.paused`` with the guardrail as cause) and the Meta simulator's campaign with
it, so it stops near its budget instead of spending on; the printed demo login works,
simulated stream events arrive for the printed demo track (today's so far, from midnight UTC on), the
demo campaign's analytics rest on 28 days of imported history (confidence "high"), and a second start
sets up a fresh campaign that warns again. The person then downloads the campaign's PDF and XLSX through
their signed links and imports a Spotify for Artists timeline with a broken row (reported, not fatal).

Real clock and a real child process; the consumer on 127.0.0.1 verifies both signature styles with the
secret the demo printed. The simulator runs at its default speed (60).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pypdf
import trio

from engine.store import EmbeddedPostgres, open_database
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Receiver, seed_ok, serve_receiver, standard_ok
from tests.helpers.signup import log_in


async def _warned_within(receiver: Receiver, seconds: float, already: int = 0) -> float:
    started = time.monotonic()
    with trio.fail_after(seconds):
        while True:
            if any(json.loads(r.body)["type"] == "budget.warning" for r in receiver.received[already:]):
                return time.monotonic() - started
            await trio.sleep(0.2)


async def _paused_by_guardrail_within(receiver: Receiver, seconds: float) -> dict[str, Any]:
    """The data of the first ``campaign.paused`` whose cause is the guardrail."""
    with trio.fail_after(seconds):
        while True:
            for item in receiver.received:
                event = json.loads(item.body)
                if event["type"] == "campaign.paused" and "guardrail" in (event["data"]["cause"] or {}):
                    return dict(event["data"])
            await trio.sleep(0.2)


async def _stopped_near_its_budget(client: httpx.AsyncClient, headers: dict[str, str],
                                   paused: dict[str, Any]) -> None:
    """The guardrail saw the spend of the Meta poll that crossed the budget (15 s of spend at speed 60, about
    10 USD on 26.05), and the Meta account actor paused the Meta campaign within a poll (its answer is
    metaEffectiveStatus), so the spend stopped short of twice the budget."""
    trip = paused["cause"]["guardrail"]
    assert trip["percent"] == 100 and trip["budget"] <= trip["budgetSpent"] < 2 * trip["budget"], trip
    with trio.fail_after(60):
        while True:
            campaign = (await client.get(f"/v1/campaigns/{paused['campaignId']}", headers=headers)).json()
            if campaign["metaEffectiveStatus"] == "PAUSED":
                break
            await trio.sleep(0.5)
    assert (campaign["status"], campaign["pausedReason"]["cause"]) == ("paused", paused["cause"])
    # Meta stopped within one poll of that: before the guardrail the demo spent 12 times its budget.
    assert campaign["budgetSpent"] < 2 * campaign["budget"], campaign
    assert (await client.post(f"/v1/campaigns/{paused['campaignId']}/launch", headers=headers)).status_code == 409


async def _stored_streams_of(data: Path, track: str) -> tuple[int, list[int]]:
    """How many stream events the running process has stored for ``track``, and the track's report days'
    streams: we attach to its embedded cluster as a second client (the owner lock is the process's, so
    ``stop`` leaves the server alone)."""
    embedded = EmbeddedPostgres(data)
    dsn = await trio.to_thread.run_sync(embedded.start)
    try:
        async with open_database(dsn, max_size=1) as db:
            count = await db.fetchval("SELECT count(*) FROM stream_events WHERE track_id = $1::uuid", track)
            days = await db.fetch("SELECT streams FROM track_report_days WHERE track_id = $1::uuid", track)
    finally:
        await trio.to_thread.run_sync(embedded.stop)
    assert isinstance(count, int)
    return count, [row["streams"] for row in days]


async def _demo_analytics(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """The demo campaign's analytics; its spend is checked against the campaign's running total, read
    just before and just after (the pollers keep adding)."""
    listed = (await client.get("/v1/campaigns", headers=headers)).json()["campaigns"]
    found = [c for c in listed if c["status"] in ("active", "paused")]  # paused once its guardrail stops it
    assert [c["name"] for c in found] == ["Demo campaign"]
    answer = await client.get(f"/v1/analytics/campaigns/{found[0]['id']}", headers=headers)
    assert answer.status_code == 200, answer.text
    after = (await client.get(f"/v1/campaigns/{found[0]['id']}", headers=headers)).json()
    analytics: dict[str, Any] = answer.json()
    assert 0 < found[0]["budgetSpent"] <= analytics["summary"]["totalSpend"] <= after["budgetSpent"]
    return analytics


async def _download(client: httpx.AsyncClient, url: str) -> httpx.Response:
    with trio.fail_after(30):
        while True:
            answer = await client.get(url)  # no token: the signed link is enough
            if answer.status_code != 202:  # 202: still being made
                break
            await trio.sleep(0.1)
    assert answer.status_code == 200, answer.text
    return answer


async def _exports_and_a_broken_import(client: httpx.AsyncClient, headers: dict[str, str],
                                       analytics: dict[str, Any]) -> None:
    """What the person does next: download the campaign's PDF and XLSX, and import a Spotify for Artists
    timeline with a broken row (of days long before the campaign, so its baseline stays as it is)."""
    for fmt in ("pdf", "xlsx"):
        started = await client.post(f"/v1/analytics/campaigns/{analytics['campaignId']}/export", headers=headers,
                                    json={"format": fmt})
        assert started.status_code == 200, started.text
        content = (await _download(client, started.json()["reportUrl"])).content
        if fmt == "pdf":
            text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
            assert "Demo campaign" in text
        else:
            series = openpyxl.load_workbook(io.BytesIO(content))["Series"]
            assert series.max_row >= 2  # a header and at least a day
    broken = "\ufeffdate,streams\n2020-01-01,120\n2020-01-02,many\n2020-01-03,80\n".encode()
    started = await client.post("/v1/imports", headers=headers,
                                files={"file": ("Demo Track-timeline.csv", broken, "text/csv")})
    assert started.status_code == 202, started.text
    with trio.fail_after(30):
        while True:
            done = (await client.get(started.headers["Location"], headers=headers)).json()
            if done["status"] != "running":
                break
            await trio.sleep(0.1)
    assert (done["status"], done["importedRows"], done["failedRows"]) == ("succeeded", 2, 1)
    assert [(e["line"], e["column"]) for e in done["errors"]] == [(3, "streams")]


async def test_make_run_in_sandbox_warns_a_webhook_consumer_within_a_minute(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs unprivileged when we are root
    port, data = free_port(), tmp_path / "var"
    async with trio.open_nursery() as nursery:
        receiver = await serve_receiver(nursery)
        env = {**os.environ, "SONGTRACK_SIMULATORS_DEMO_WEBHOOK_URL": f"{receiver.url}/hook",
               "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8"}
        first = SongtrackProcess(["run", "--data-dir", str(data), "--port", str(port)], tmp_path / "1.log", env)
        try:
            await first.start()
            await first.wait_ready(f"http://127.0.0.1:{port}")
            # Deliveries may arrive before we read the printed secret: they are verified at the end.
            secret = re.search(r"secret (whsec_\S+)", first.output).group(1)  # type: ignore[union-attr]
            await _warned_within(receiver, 60)
            track = re.search(r"Demo track: (\S+) ", first.output)
            assert track is not None
            assert "Demo history: 28 days of Spotify for Artists streams" in first.output
            login = re.search(r"log in as (\S+) / (\S+);", first.output)
            assert login is not None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                headers = await log_in(client, login[1], login[2])
                alerts = (await client.get("/v1/alerts?type=budget.warning", headers=headers)).json()["alerts"]
                analytics = await _demo_analytics(client, headers)
                attribution = analytics["attribution"]
            # 2 a real second by default from the simulated midnight UTC: 2,880 a simulated day at speed 60.
            events, history = await _stored_streams_of(data, track[1])
            assert events >= attribution["streamsDuring"] > 0
            assert len(history) == attribution["baseline"]["observedDays"] == 28
            mean = sum(history) / len(history)  # as the model computes it, to the last bit
            assert abs(mean - 0.6 * 2_880) < 0.05 * 0.6 * 2_880
            assert attribution["confidence"] == "high"
            assert attribution["incrementalStreams"] == round(
                attribution["streamsDuring"] - mean * attribution["elapsedDays"])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await _exports_and_a_broken_import(client, headers, analytics)
                await _stopped_near_its_budget(client, headers, await _paused_by_guardrail_within(receiver, 60))
            assert alerts and alerts[0]["data"]["threshold"] in (0.5, 0.8, 1.0)
            assert await first.stop() == 0
            seen = len(receiver.received)
            second = SongtrackProcess(["run", "--data-dir", str(data), "--port", str(port)], tmp_path / "2.log",
                                      env)
            try:
                await second.start()
                await second.wait_ready(f"http://127.0.0.1:{port}")
                await _warned_within(receiver, 60, already=seen)  # a fresh campaign, so fresh thresholds
                assert await second.stop() == 0
            finally:
                await second.kill()
        finally:
            await first.kill()
            nursery.cancel_scope.cancel()
    # Both checks allow 5 minutes of clock skew, more than this test lasts.
    assert receiver.received and all(standard_ok(secret, r.headers, r.body) and seed_ok(secret, r.headers, r.body)
                                     for r in receiver.received)
