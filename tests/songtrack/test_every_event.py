"""Every webhook event type we list is really sent: a real consumer subscribed to each type of
``EVENT_TYPES`` receives each one, signed, while a label does what provokes it as a user would (through the
API, the Meta simulator and the engine's own actors; ``tests/helpers/service.py`` wires them). The
expected set is the list itself, so a type added to it that nothing sends fails here.

Real PostgreSQL, hypercorn, sockets and clock; every wait is bounded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.daily_reporter import DailyReporter
from config import Keys, load_or_create_keys
from engine import report_links
from engine.analytics.campaign import AnalyticsRules
from engine.store import Database
from engine.webhooks.events import EVENT_TYPES
from tests.helpers.live_ws import Label, label
from tests.helpers.receiver import Receiver, serve_receiver
from tests.helpers.service import Service, running_service

Event = dict[str, Any]


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return load_or_create_keys(tmp_path / "data")


class GoneReceiver(Receiver):
    """Answers 410 Gone on ``/gone`` (an endpoint its owner took down), as scripted on any other path."""

    async def answer(self, item, receive, send) -> None:  # type: ignore[no-untyped-def]
        if item.path == "/gone":
            self.answers.insert(0, (410, {}))
        await super().answer(item, receive, send)


def _events(receiver: Receiver, path: str = "/hook") -> list[Event]:
    return [json.loads(item.body) for item in receiver.received if item.path == path]


async def _until(receiver: Receiver, found: Callable[[list[Event]], bool], what: str,
                 seconds: float = 60) -> list[Event]:
    """Wait until the events received on ``/hook`` satisfy ``found``; fails naming ``what`` after ``seconds``."""
    with trio.move_on_after(seconds):
        while not found(_events(receiver)):  # noqa: ASYNC110 -- the receiver's record, kept by its own tasks
            await trio.sleep(0.1)
        return _events(receiver)
    got = {event["type"] for event in _events(receiver)}
    raise AssertionError(f"no {what} within {seconds} s; got {sorted(got)}, never {sorted(set(EVENT_TYPES) - got)}")


def _of(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["type"] == kind]


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, (answer.request.url, answer.status_code, answer.text)
    return answer.json()


async def _hook(api: httpx.AsyncClient, receiver: Receiver, path: str, types: list[str]) -> str:
    hook = _ok(await api.post("/v1/webhooks", json={"url": f"{receiver.url}{path}", "events": types}), 201)
    receiver.secrets[path] = [hook["secret"]]
    return str(hook["id"])


async def _campaign(api: httpx.AsyncClient, owner: Label, name: str, ends: datetime, **extra: object) -> str:
    body = {"name": name, "trackId": str(owner.track_id), "budget": 5, "currency": "USD", "objective": "streams",
            "startDate": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "endDate": ends.isoformat(), **extra}
    return str((_ok(await api.post("/v1/campaigns", json=body), 201))["id"])


async def _on_meta(api: httpx.AsyncClient, campaign: str) -> str:
    """Give the campaign a Meta campaign spending 5,000 USD a day (created paused; our launch starts it);
    returns its Meta id. Our lifetime budget cannot go on a daily budget: the link and the launch each
    record that refusal (campaign.meta_sync_failed), and the Meta campaign keeps spending its 5,000."""
    account = (_ok(await api.get("/v1/meta/accounts")))["accounts"][0]
    linked = _ok(await api.post("/v1/meta/campaigns", json={
        "campaignId": campaign, "adAccountId": account["id"], "objective": "OUTCOME_AWARENESS", "budget": "5000",
        "budgetType": "daily"}), 201)
    return str(linked["metaCampaign"]["id"])


def _reporter(db: Database, keys: Keys, service: Service) -> DailyReporter:
    """The daily reporter a day from now: today, when the campaigns ran, is its yesterday."""
    return DailyReporter(db, link_key=report_links.link_key(keys.jwt_signing_key), public_url=service.api_url,
                         rules=AnalyticsRules(), ttl=timedelta(days=1),
                         wall=lambda: datetime.now(UTC) + timedelta(days=1))


async def test_a_consumer_subscribed_to_every_type_receives_each_one_signed(db: Database, keys: Keys) -> None:
    async with trio.open_nursery() as nursery, running_service(db, keys) as service:
        receiver = await serve_receiver(nursery, GoneReceiver)
        owner = await label(db, service.ctx)
        async with service.client(owner.token) as api:
            hook = await _hook(api, receiver, "/hook", list(EVENT_TYPES))
            gone = await _hook(api, receiver, "/gone", ["webhook.test"])
            await service.connect_meta(api)  # integration.connected
            # A campaign spending far beyond its budget of 5 on Meta: the Meta actor polls the simulator's spend
            # into the aggregator, whose rules fire the budget, goal and metrics events, and whose guardrail
            # pauses it (campaign.paused); the Meta actor then pauses it on Meta.
            spring = await _campaign(api, owner, "Spring push", datetime.now(UTC) + timedelta(days=30),
                                     goals=[{"metric": "impressions", "target": 100}])  # campaign.created
            _ok(await api.patch(f"/v1/campaigns/{spring}", json={"name": "Spring push (EU)"}))
            spring_on_meta = await _on_meta(api, spring)
            _ok(await api.post(f"/v1/campaigns/{spring}/launch"))
            # A rule raising its budget by 10 % once it spends (rule.triggered, campaign.budget_changed); the
            # Meta campaign has a daily budget, so the Meta actor refuses the write (rule.action_failed).
            rule = _ok(await api.post("/v1/rules", json={
                "name": "More for spring", "condition": {"field": "spend", "operator": "greater_than", "value": 0},
                "action": {"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": 10}},
                "appliesTo": {"campaigns": [spring]}, "cooldownHours": 24}), 201)
            # One that ends in a few seconds (its budget out of reach by then): the aggregator completes it,
            # the Meta actor pauses it on Meta.
            flash = await _campaign(api, owner, "Flash", datetime.now(UTC) + timedelta(seconds=3), budget=1000)
            flash_on_meta = await _on_meta(api, flash)
            _ok(await api.post(f"/v1/campaigns/{flash}/launch"))
            await _until(receiver, lambda got: {e["data"].get("campaignId") for e in _of(got, "campaign.completed")}
                         == {flash}, "campaign.completed")
            await _until(receiver, lambda got: {"budget.warning", "budget.pacing", "goal.reached", "campaign.paused"}
                         <= {e["type"] for e in got}, "spend alerts and the guardrail")
            for on_meta in (flash_on_meta, spring_on_meta):
                with trio.fail_after(10):  # Meta says so over its Graph API: polled, there is nothing to wait on
                    while (await service.meta_campaign(on_meta))["effective_status"] != "PAUSED":  # noqa: ASYNC110
                        await trio.sleep(0.2)
            # At its guardrail it does not resume; with the guardrail off it does, and a member pauses it.
            assert (await api.post(f"/v1/campaigns/{spring}/launch")).status_code == 409
            _ok(await api.patch(f"/v1/campaigns/{spring}", json={"budgetGuardrail": {"enabled": False}}))
            _ok(await api.post(f"/v1/campaigns/{spring}/launch"))
            _ok(await api.post(f"/v1/campaigns/{spring}/pause"))
            await nursery.start(_reporter(db, keys, service).run)  # report.daily.ready
            _ok(await api.post(f"/v1/webhooks/{hook}/test"), 202)
            _ok(await api.post(f"/v1/webhooks/{gone}/test"), 202)  # 410: endpoint.disabled
            service.revoke_meta_logins()  # the Meta actor's next poll is refused: integration.needs_reauth
            await _until(receiver, lambda got: set(EVENT_TYPES) <= {e["type"] for e in got}, "full set")
            _ok(await api.post(f"/v1/campaigns/{spring}/archive"))
            events = await _until(receiver, lambda got: len(_of(got, "campaign.updated")) == 4, "the archive")
        nursery.cancel_scope.cancel()

    assert all(item.verified_standard and item.verified_seed for item in receiver.received)
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    moves = sorted((e["type"], e["data"]["campaignName"], e["data"]["previousStatus"])
                   for e in events if e["type"] in ("campaign.launched", "campaign.paused", "campaign.resumed"))
    assert moves == [("campaign.launched", "Flash", "draft"), ("campaign.launched", "Spring push (EU)", "draft"),
                     ("campaign.paused", "Spring push (EU)", "active"),  # by the guardrail
                     ("campaign.paused", "Spring push (EU)", "active"),  # by a member
                     ("campaign.resumed", "Spring push (EU)", "paused")]  # with the guardrail off

    by_guardrail, by_member = [e["data"]["cause"] for e in _of(events, "campaign.paused")]
    assert by_member == {"userId": str(owner.user_id)}
    # 5.5 once the rule raised it (its first batch of spend), 5 should a batch reach the guardrail first.
    assert by_guardrail["guardrail"]["percent"] == 100 and by_guardrail["guardrail"]["budget"] in (5.0, 5.5)
    assert by_guardrail["guardrail"]["budgetSpent"] >= 5.0 and by_guardrail["guardrail"]["currency"] == "USD"
    assert [e["data"]["changes"] for e in _of(events, "campaign.updated")] == [
        {"name": "Spring push (EU)"}, {"budget": 5.5}, {"budgetGuardrail": {"enabled": False, "percent": None}},
        {"status": "archived"}]
    [raised] = _of(events, "campaign.budget_changed")
    assert raised["data"] | {"cause": {"ruleId": rule["id"]}, "budget": 5.5, "previousBudget": 5.0} == raised["data"]
    [triggered] = _of(events, "rule.triggered")
    assert triggered["data"]["ruleId"] == rule["id"] and triggered["data"]["after"] == {"budget": "5.50"}
    [failed] = _of(events, "rule.action_failed")
    assert failed["data"]["runId"] == triggered["data"]["runId"] and failed["data"]["error"]["code"] == "CONFLICT"
    assert spring in {e["data"]["campaignId"] for e in _of(events, "budget.warning")} <= {spring, flash}
    fired = {(e["data"]["type"], e["data"]["campaignId"]) for e in _of(events, "alert.fired")}
    assert {("budget.pacing", spring), ("goal.reached", spring), ("campaign.completed", flash)} <= fired
    assert [e["data"]["endpointId"] for e in _of(events, "endpoint.disabled")] == [gone]
    assert [e["data"]["provider"] for e in _of(events, "integration.needs_reauth")] == ["meta"]
    refused = sorted((e["data"]["campaignName"], e["data"]["action"], e["data"]["error"]["code"])
                     for e in _of(events, "campaign.meta_sync_failed"))
    assert refused == [("Flash", "launch", "CONFLICT"), ("Flash", "set_budget", "CONFLICT"),
                       ("Spring push (EU)", "launch", "CONFLICT"),  # its launch
                       ("Spring push (EU)", "launch", "CONFLICT"),  # its resume once the guardrail is off
                       ("Spring push (EU)", "set_budget", "CONFLICT"),  # its link
                       ("Spring push (EU)", "set_budget", "CONFLICT")]  # the rule's budget
    assert [e["data"]["campaigns"] for e in _of(events, "report.daily.ready")] == [2]
