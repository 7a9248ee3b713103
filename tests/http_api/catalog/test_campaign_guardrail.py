"""The campaign's budget guardrail through `/v1/campaigns`: ``budgetGuardrail`` on create and PATCH, its
checks, ``pausedReason``, and launch refused at the guardrail, against a real per-test PostgreSQL.

Rules of this file: as in test_campaigns.py (organizations from ``make_member``, tracks through the store,
another organization's ids answer 404 and change nothing); a guardrail pause is made with the store's own
transition, as the aggregator makes it (tests/actors/test_aggregator.py runs the aggregator itself).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from quart.typing import TestClientProtocol as Client

from engine.guardrail import GuardrailTrip, PauseCause, PausedReason
from engine.store.campaigns import set_campaign_status
from engine.store.database import Database
from tests.helpers.factories import create_track
from tests.http_api.conftest import MakeMember, Member
from tests.http_api.post import post_created

BODY = {"name": "Summer Release", "budget": 100, "currency": "USD", "objective": "streams",
        "startDate": "2027-01-01T00:00:00Z", "endDate": "2027-03-31T23:59:59Z"}
DEFAULT = {"enabled": True, "percent": None}


async def _create(client: Client, member: Member, **fields: object) -> dict[str, Any]:
    return await post_created(client, member.headers, "/v1/campaigns", BODY | fields)


async def _patch(client: Client, member: Member, campaign: dict[str, Any], body: object) -> tuple[int, Any]:
    response = await client.patch(f"/v1/campaigns/{campaign['id']}", headers=member.headers, json=body)
    return response.status_code, await response.get_json()


async def test_it_is_on_by_default_and_set_on_create_and_patch_field_by_field(
        client: Client, db: Database, make_member: MakeMember) -> None:
    owner = await make_member()
    campaign = await _create(client, owner)
    assert (campaign["budgetGuardrail"], campaign["pausedReason"]) == (DEFAULT, None)
    own = await _create(client, owner, budgetGuardrail={"enabled": False, "percent": 150})
    assert own["budgetGuardrail"] == {"enabled": False, "percent": 150}
    for change, expected in (({"percent": 120}, {"enabled": True, "percent": 120}),
                             ({"enabled": False}, {"enabled": False, "percent": 120}),  # the percent stays
                             ({"percent": None}, {"enabled": False, "percent": None}),
                             ({}, {"enabled": False, "percent": None})):
        code, body = await _patch(client, owner, campaign, {"budgetGuardrail": change})
        assert (code, body["budgetGuardrail"]) == (200, expected), change
    rows = await db.fetch("SELECT payload::text FROM webhook_events WHERE type = 'campaign.updated'"
                          " ORDER BY created_at")
    assert [json.loads(row["payload"])["data"]["changes"] for row in rows] == [
        {"budgetGuardrail": {"enabled": True, "percent": 120}}, {"budgetGuardrail": {"enabled": False, "percent": 120}},
        {"budgetGuardrail": {"enabled": False, "percent": None}}]  # the last PATCH changed nothing


async def test_a_percent_outside_1_to_1000_or_an_unknown_field_is_named(client: Client,
                                                                         make_member: MakeMember) -> None:
    owner = await make_member()
    campaign = await _create(client, owner)
    percent = "budgetGuardrail.percent"
    for guardrail, field in (({"percent": 0}, percent), ({"percent": 1001}, percent), ({"percent": 12.5}, percent),
                             ({"enabled": "yes"}, "budgetGuardrail.enabled"), ({"limit": 1}, "budgetGuardrail.limit")):
        for method, path in (("POST", "/v1/campaigns"), ("PATCH", f"/v1/campaigns/{campaign['id']}")):
            response = await client.open(path, method=method, headers=owner.headers,
                                         json=(BODY if method == "POST" else {}) | {"budgetGuardrail": guardrail})
            assert response.status_code == 400, (method, guardrail)
            fields = [detail["field"] for detail in (await response.get_json())["error"]["details"]]
            assert fields == [field], (method, guardrail)
    for percent in (1, 1000):
        assert (await _patch(client, owner, campaign, {"budgetGuardrail": {"percent": percent}}))[0] == 200


async def _paused_by_guardrail(db: Database, member: Member, campaign: dict[str, Any], spent: float) -> None:
    """The campaign active, ``spent`` on it, then paused by its guardrail as the aggregator does it."""
    org, campaign_id = member.org_id, uuid.UUID(campaign["id"])
    await set_campaign_status(db, org, campaign_id, expected_from=("draft",), to="active")
    await db.execute("UPDATE campaigns SET budget_spent = $2 WHERE id = $1", campaign_id, spent)
    trip = GuardrailTrip(percent=100, budget=campaign["budget"], budget_spent=spent, currency="USD")
    reason = PausedReason(cause=PauseCause(guardrail=trip), at=datetime(2027, 1, 15, tzinfo=UTC))
    await set_campaign_status(db, org, campaign_id, expected_from=("active",), to="paused", reason=reason)


async def test_a_campaign_at_its_guardrail_resumes_only_once_the_budget_or_the_guardrail_allows(
        client: Client, db: Database, make_member: MakeMember) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, trackId=str(await create_track(db, owner.org_id)))
    path = f"/v1/campaigns/{campaign['id']}"
    await _paused_by_guardrail(db, owner, campaign, 104.5)
    shown = await (await client.get(path, headers=owner.headers)).get_json()
    assert shown["pausedReason"] == {"at": "2027-01-15T00:00:00Z", "cause": {"guardrail": {
        "percent": 100, "budget": 100.0, "budgetSpent": 104.5, "currency": "USD"}}}
    for attempt in (client.post(f"{path}/launch", headers=owner.headers),
                    client.patch(path, headers=owner.headers, json={"status": "active"}),
                    client.patch(path, headers=owner.headers, json={"budget": 104.5, "status": "active"})):
        refused = await attempt
        error = (await refused.get_json())["error"]
        assert (refused.status_code, error["code"]) == (409, "CONFLICT")
        assert [detail["field"] for detail in error["details"]] == ["budgetGuardrail"]
        assert "it has spent 104.50 of its" in error["message"] and "at its guardrail (100 %)" in error["message"]
    assert await (await client.get(path, headers=owner.headers)).get_json() == shown  # refused PATCHes change nothing
    code, resumed = await _patch(client, owner, campaign, {"budgetGuardrail": {"percent": 110}, "status": "active"})
    assert (code, resumed["status"], resumed["pausedReason"]) == (200, "active", None)
    paused = await client.post(f"{path}/pause", headers=owner.headers)
    assert (await paused.get_json())["pausedReason"]["cause"] == {"userId": str(owner.user_id)}
    assert (await _patch(client, owner, campaign, {"budget": 200, "budgetGuardrail": {"percent": None}}))[0] == 200
    assert (await client.post(f"{path}/launch", headers=owner.headers)).status_code == 200


async def test_another_organization_can_neither_see_nor_change_the_guardrail(
        client: Client, db: Database, make_member: MakeMember) -> None:
    owner, stranger = await make_member(), await make_member()
    campaign = await _create(client, owner, trackId=str(await create_track(db, owner.org_id)))
    await _paused_by_guardrail(db, owner, campaign, 100.0)
    path = f"/v1/campaigns/{campaign['id']}"
    before = await (await client.get(path, headers=owner.headers)).get_json()
    for method, url, body in (("GET", path, None), ("PATCH", path, {"budgetGuardrail": {"enabled": False}}),
                              ("PATCH", path, {"budgetGuardrail": {"percent": 1000}, "status": "active"}),
                              ("POST", f"{path}/launch", None)):
        response = await client.open(url, method=method, headers=stranger.headers, json=body)
        assert response.status_code == 404, (method, url, body)
    assert await (await client.get(path, headers=owner.headers)).get_json() == before
