"""The pipeline end to end, as a label runs it: ``songtrack run`` in sandbox mode (a real child process,
the embedded PostgreSQL, the Meta simulator in-process at 600 simulated seconds per second), a campaign
linked to a Meta campaign and launched, and a real webhook consumer on 127.0.0.1 that verifies every
request with the ``standardwebhooks`` package and with the seed's header check.

What must happen: the Meta account actor polls the simulator's insights, the aggregator stores the spend,
the rules fire ``budget.warning`` at 50 % and 80 % of the budget (and 100 % if the spend gets there
before we stop), once each, and the dispatcher delivers
them signed; the attempt log shows the deliveries. Real clock (a child process cannot follow MockClock);
every wait has a deadline.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Received, serve_receiver
from tests.helpers.signup import connect, register

EMAIL, PASSWORD = "ana@label.example", "a long password"


async def _post(client: httpx.AsyncClient, headers: dict[str, str], path: str, body: object) -> Any:
    answer = await client.post(path, headers=headers, json=body)
    assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
    return answer.json()


async def _warnings(received: list[Received], count: int) -> list[dict[str, Any]]:
    with trio.fail_after(120):
        while True:
            events = [json.loads(item.body) for item in received]
            warnings = [event for event in events if event["type"] == "budget.warning"]
            if len(warnings) >= count:
                return warnings
            await trio.sleep(0.2)


async def test_spend_crossing_80_percent_reaches_a_consumer_as_one_signed_budget_warning(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs as an unprivileged account when we are root
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SONGTRACK_SIMULATORS_SPEED": "600", "SONGTRACK_WEBHOOKS_SCHEDULE": "fast",
           "SONGTRACK_SIMULATORS_STREAM_RATE": "0.05",  # the sandbox backfills today's listens: keep them few
           "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8"}
    proc = SongtrackProcess(["run", "--data-dir", str(tmp_path / "var"), "--port", str(port)],
                            tmp_path / "songtrack.log", env)
    async with trio.open_nursery() as nursery:
        receiver = await serve_receiver(nursery)
        try:
            await proc.start()
            await proc.wait_ready(base)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                headers = await register(client, email=EMAIL, password=PASSWORD, name="Ana", organization="Ana")
                await connect(client, headers, "meta")
                hook = await _post(client, headers, "/v1/webhooks",
                                   {"url": f"{receiver.url}/hook", "events": ["budget.warning"]})
                receiver.secrets["/hook"] = [hook["secret"]]
                accounts = (await client.get("/v1/meta/accounts", headers=headers)).json()["accounts"]
                usd = next(account for account in accounts if account["currency"] == "USD")
                track = await _post(client, headers, "/v1/tracks", {"title": "Summer Vibes", "artist": "Ana"})
                now = datetime.now(UTC)
                campaign = await _post(client, headers, "/v1/campaigns", {
                    "name": "Summer release", "trackId": track["id"], "budget": 20, "currency": "USD",
                    "objective": "streams", "startDate": (now - timedelta(hours=1)).isoformat(),
                    "endDate": (now + timedelta(days=30)).isoformat()})
                await _post(client, headers, "/v1/meta/campaigns", {
                    "campaignId": campaign["id"], "adAccountId": usd["id"], "objective": "OUTCOME_AWARENESS",
                    "budget": "2000", "budgetType": "daily"})
                await _post(client, headers, f"/v1/campaigns/{campaign['id']}/launch", {})
                warnings = await _warnings(receiver.received, 2)
                await trio.sleep(2)  # room for a duplicate to show up, if one were coming
                attempts = await client.get(
                    f"/v1/webhooks/{hook['id']}/events/{warnings[1]['id']}/attempts", headers=headers)
                alerts = (await client.get("/v1/alerts?type=budget.warning", headers=headers)).json()
            assert await proc.stop() == 0
        finally:
            await proc.kill()
            nursery.cancel_scope.cancel()
    warnings = await _warnings(receiver.received, 2)
    thresholds = sorted(w["data"]["threshold"] for w in warnings)
    assert thresholds[:2] == [0.5, 0.8] and len(set(thresholds)) == len(thresholds)  # each once, no repeats
    assert all(item.verified_standard and item.verified_seed for item in receiver.received)
    assert all(w["data"]["campaignId"] == campaign["id"] for w in warnings)
    assert attempts.status_code == 200 and attempts.json()["attempts"][0]["statusCode"] == 200
    assert len(alerts["alerts"]) == len(warnings)
