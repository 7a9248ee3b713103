"""A rule as a label uses it, end to end: created through the API in the reference's shape, it fires on
figures the Meta actor polled from the simulator and on the track's streams, pauses the campaign here and
on Meta, writes its history (with Meta's answer), delivers a signed ``rule.triggered`` webhook; and its
preview over the past lists the days it would have fired.

Real PostgreSQL, hypercorn, the Meta simulator over HTTP, the engine's actors (``tests/helpers/service.py``)
and a receiver that verifies signatures. Stream days are written to the store as the stream counter would
(the track's streams are not what this test is about); every wait is bounded.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from config import Keys, load_or_create_keys
from engine.store import Database
from tests.helpers.live_ws import label
from tests.helpers.receiver import serve_receiver
from tests.helpers.service import running_service

# The example, verbatim.
RULE = {"name": "Too expensive per new stream",
        "condition": {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "0.05",
                      "durationHours": 48},
        "action": {"type": "pause_campaign", "config": {}}, "appliesTo": {"campaigns": None}, "cooldownHours": 24}


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return load_or_create_keys(tmp_path / "data")


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, (answer.request.url, answer.status_code, answer.text)
    return answer.json()


async def _streams(db: Database, track: object, days: list[date], per_day: int) -> None:
    await db.execute("INSERT INTO stream_days (track_id, day, country, platform, streams, updated_at)"
                     " SELECT $1, d, 'SE', 'spotify', $3, now() FROM unnest($2::date[]) AS d", track, days, per_day)


async def test_a_rule_made_through_the_api_pauses_a_campaign_here_and_on_meta_and_shows_why(
        db: Database, keys: Keys) -> None:
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=3), datetime.min.time(), UTC)
    async with trio.open_nursery() as nursery, running_service(db, keys) as service:
        receiver = await serve_receiver(nursery)
        owner = await label(db, service.ctx)
        # 28 steady days before the campaign and its first days alike, then today a couple of streams more
        # than the baseline expects of the part of today gone by: a lift too thin for what Meta spends.
        await _streams(db, owner.track_id, [start.date() + timedelta(days=i) for i in range(-28, 3)], 100)
        now = datetime.now(UTC)
        gone = (now - datetime.combine(today, datetime.min.time(), UTC)) / timedelta(days=1)
        await _streams(db, owner.track_id, [today], round(100 * gone) + 3)
        async with service.client(owner.token) as api:
            hook = _ok(await api.post("/v1/webhooks", json={"url": f"{receiver.url}/hook",
                                                            "events": ["rule.triggered", "campaign.paused"]}), 201)
            receiver.secrets["/hook"] = [hook["secret"]]
            await service.connect_meta(api)
            campaign = _ok(await api.post("/v1/campaigns", json={
                "name": "Spring", "trackId": str(owner.track_id), "budget": 1000, "currency": "USD",
                "objective": "streams", "startDate": start.isoformat(),
                "endDate": (start + timedelta(days=30)).isoformat()}), 201)["id"]
            account = _ok(await api.get("/v1/meta/accounts"))["accounts"][0]
            linked = _ok(await api.post("/v1/meta/campaigns", json={
                "campaignId": campaign, "adAccountId": account["id"], "objective": "OUTCOME_AWARENESS",
                "budget": "1000", "budgetType": "lifetime"}), 201)
            meta_id = linked["metaCampaign"]["id"]
            _ok(await api.post(f"/v1/campaigns/{campaign}/launch"))
            rule = _ok(await api.post("/v1/rules", json=RULE), 201)

            with trio.fail_after(60):  # spend polled, the batch evaluated, the rule fires, Meta is written
                while (await service.meta_campaign(meta_id))["effective_status"] != "PAUSED":  # noqa: ASYNC110
                    await trio.sleep(0.2)
                while not [e for e in _received(receiver) if e["type"] == "rule.triggered"]:  # noqa: ASYNC110
                    await trio.sleep(0.1)
            ours = _ok(await api.get(f"/v1/campaigns/{campaign}"))
            assert ours["status"] == "paused" and ours["pausedReason"]["cause"] == {"ruleId": rule["id"]}
            with trio.fail_after(30):  # the history's Meta answer lands once the Meta actor applied the write
                history = await _history_once_applied(api, rule["id"])
            [run] = history["history"]
            assert run["campaignId"] == campaign and run["outcome"] == "applied" and not run["manual"]
            assert run["before"] == {"status": "active"} and run["after"] == {"status": "paused"}
            [seen] = run["inputs"]["conditions"]
            assert seen["field"] == "costPerIncrementalStream" and seen["met"] and float(seen["actual"]) > 0.05
            [triggered] = [e for e in _received(receiver) if e["type"] == "rule.triggered"]
            assert triggered["data"]["ruleId"] == rule["id"] and triggered["data"]["campaignId"] == campaign
            assert all(item.verified_standard for item in receiver.received)
            listed = _ok(await api.get(f"/v1/rules/{rule['id']}"))
            assert listed["triggerCount"] == 1 and listed["lastTriggeredAt"] is not None

            # The preview over the campaign's days: Meta spent only today (the simulator's campaign is new), so
            # the days before cost nothing; it would have fired today, as it did.
            preview = _ok(await api.post(f"/v1/rules/{rule['id']}/preview", json={
                "startDate": start.date().isoformat(), "endDate": today.isoformat()}))["data"]
            fired = [(f["campaignId"], f["after"]) for f in preview["firings"]]
            assert fired == [(campaign, {"status": "paused"})]
            assert preview["firings"][0]["at"].startswith(today.isoformat())
        nursery.cancel_scope.cancel()


async def _history_once_applied(api: httpx.AsyncClient, rule_id: str) -> Any:
    while True:
        history = _ok(await api.get(f"/v1/rules/{rule_id}/history"))
        if history["history"][0]["meta"]["state"] == "applied":
            return history
        await trio.sleep(0.2)


def _received(receiver: Any) -> list[dict[str, Any]]:
    return [json.loads(item.body) for item in receiver.received if item.path == "/hook"]
