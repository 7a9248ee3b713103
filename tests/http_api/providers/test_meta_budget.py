"""Our campaign's budget on its linked Meta campaign: pushed at link, at launch (with the status, in one
write) and on every change of budget or currency, through Quart's test client against a real PostgreSQL
and the Meta simulator; every outcome shown on the campaign (``metaSync``) and a refusal sent as
``campaign.meta_sync_failed``.

Rules of this file: what Meta has is read from the simulator's ``world``; events are read from the
webhook outbox (``webhook_events``). Meta's refusal is provoked with what the simulator refuses today: a
write to a campaign deleted in Ads Manager meanwhile ("(#300) Edit failure").
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from quart.typing import TestClientProtocol as Client

from adapters.meta.simulator import Account
from adapters.meta.simulator.world import Campaign as SimCampaign
from engine.store.database import Database
from tests.helpers.factories import create_track
from tests.http_api.conftest import MakeMember, Member, Simulators
from tests.http_api.connect import connect
from tests.http_api.post import post_created

OURS = {
    "name": "Summer Release", "budget": 5000, "currency": "USD", "objective": "streams",
    "startDate": "2026-06-01T00:00:00Z", "endDate": "2027-06-30T23:59:59Z",
}  # fmt: skip
FAILED = "campaign.meta_sync_failed"


def _usd(sims: Simulators) -> Account:
    return next(a for a in sims.meta.world.accounts.values() if a.currency == "USD")


async def _member(client: Client, sims: Simulators, make_member: MakeMember) -> Member:
    member = await make_member()
    await connect(client, sims, "meta", member)
    return member


async def _linked(client: Client, sims: Simulators, member: Member, db: Database, **fields: object
                  ) -> tuple[dict[str, Any], SimCampaign]:
    """Our campaign (with a track, so it can launch) linked to a new Meta campaign of the USD account."""
    track = await create_track(db, member.org_id, title="Summer Vibes", artist="Ana")
    ours = await post_created(client, member.headers, "/v1/campaigns", OURS | {"trackId": str(track)} | fields)
    body = {"campaignId": ours["id"], "adAccountId": f"act_{_usd(sims).account_id}", "objective": "OUTCOME_AWARENESS",
            "budget": "50.25"}
    linked = await client.post("/v1/meta/campaigns", headers=member.headers, json=body)
    assert linked.status_code == 201, await linked.get_json()
    return ours, sims.meta.world.campaigns[(await linked.get_json())["metaCampaign"]["id"]]


async def _shown(client: Client, member: Member, ours: dict[str, Any]) -> dict[str, Any]:
    answer = await client.get(f"/v1/campaigns/{ours['id']}", headers=member.headers)
    assert answer.status_code == 200
    shown: dict[str, Any] = await answer.get_json()
    return shown


async def _events(db: Database, org_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload::text AS p FROM webhook_events WHERE organization_id = $1 AND type = $2"
                          " ORDER BY created_at", org_id, kind)
    return [json.loads(row["p"])["data"] for row in rows]


def _writes(campaign: SimCampaign, sims: Simulators) -> list[dict[str, object]]:
    """Record each write the simulator applies to ``campaign`` (one per Graph POST), as its keywords."""
    world, seen = sims.meta.world, []
    apply = world.update_campaign

    def recording(target: SimCampaign, **changes: Any) -> None:
        if target is campaign:
            seen.append({key: value for key, value in changes.items() if value is not None})
        apply(target, **changes)

    world.update_campaign = recording  # type: ignore[method-assign]
    return seen


async def test_link_pushes_our_budget_as_meta_s_lifetime_budget(client: Client, simulators: Simulators,
                                                                 make_member: MakeMember, db: Database) -> None:
    member = await _member(client, simulators, make_member)
    ours, meta = await _linked(client, simulators, member, db)
    assert (meta.lifetime_budget, meta.daily_budget) == (5000 * 100, None)  # ours, not the body's 50.25
    sync = (await _shown(client, member, ours))["metaSync"]
    assert (sync["budgetMinor"], sync["currency"], sync["error"]) == (500000, "USD", None)
    assert sync["syncedAt"] is not None
    assert await _events(db, member.org_id, FAILED) == []


async def test_a_budget_change_is_pushed_and_meta_s_refusal_keeps_ours(client: Client, simulators: Simulators,
                                                                        make_member: MakeMember, db: Database) -> None:
    member = await _member(client, simulators, make_member)
    ours, meta = await _linked(client, simulators, member, db)
    url = f"/v1/campaigns/{ours['id']}"
    changed = await client.patch(url, headers=member.headers, json={"budget": 80})
    assert changed.status_code == 200, await changed.get_json()
    assert meta.lifetime_budget == 8000 and (await changed.get_json())["metaSync"]["budgetMinor"] == 8000
    assert [e["changes"] for e in await _events(db, member.org_id, "campaign.updated")] == [{"budget": 80.0}]

    simulators.meta.world.update_campaign(meta, status="DELETED")  # deleted in Ads Manager meanwhile
    refused = await client.patch(url, headers=member.headers, json={"budget": 90, "name": "Renamed"})
    assert refused.status_code == 502
    error = (await refused.get_json())["error"]
    assert error["code"] == "INTEGRATION_ERROR" and "Edit failure" in error["message"]
    shown = await _shown(client, member, ours)
    assert (shown["budget"], shown["name"], meta.lifetime_budget) == (80, "Summer Release", 8000)
    assert shown["metaSync"]["budgetMinor"] == 8000
    kept = shown["metaSync"]["error"]
    assert (kept["action"], kept["code"], kept["message"]) == ("set_budget", "INTEGRATION_ERROR", error["message"])
    assert await _events(db, member.org_id, FAILED) == [{
        "campaignId": ours["id"], "campaignName": "Summer Release", "action": "set_budget",
        "error": {"code": "INTEGRATION_ERROR", "message": error["message"]}}]
    assert len(await _events(db, member.org_id, "campaign.updated")) == 1  # nothing of ours changed

    simulators.meta.world.update_campaign(meta, status="PAUSED")  # restored: the next success clears it
    again = await client.patch(url, headers=member.headers, json={"budget": 90})
    assert again.status_code == 200 and meta.lifetime_budget == 9000
    assert (await again.get_json())["metaSync"] | {"syncedAt": None} == {
        "budgetMinor": 9000, "currency": "USD", "syncedAt": None, "error": None}


async def test_launch_pushes_status_and_budget_in_one_write(client: Client, simulators: Simulators,
                                                             make_member: MakeMember, db: Database) -> None:
    member = await _member(client, simulators, make_member)
    ours, meta = await _linked(client, simulators, member, db)
    simulators.meta.world.update_campaign(meta, lifetime_budget=1234)  # changed in Ads Manager meanwhile
    writes = _writes(meta, simulators)
    launched = await client.post(f"/v1/campaigns/{ours['id']}/launch", headers=member.headers)
    assert launched.status_code == 200, await launched.get_json()
    assert writes == [{"status": "ACTIVE", "lifetime_budget": 500000}]
    assert (await launched.get_json())["metaSync"]["budgetMinor"] == 500000
    paused = await client.post(f"/v1/campaigns/{ours['id']}/pause", headers=member.headers)
    assert paused.status_code == 200 and writes[-1] == {"status": "PAUSED"}  # a pause leaves the budget
    resumed = await client.post(f"/v1/campaigns/{ours['id']}/launch", headers=member.headers)
    assert resumed.status_code == 200 and writes[-1] == {"status": "ACTIVE"}  # Meta has it already

    simulators.meta.world.update_campaign(meta, status="DELETED")
    assert (await client.post(f"/v1/campaigns/{ours['id']}/pause", headers=member.headers)).status_code == 502
    assert [e["action"] for e in await _events(db, member.org_id, FAILED)] == []  # a pause pushes no budget


async def test_another_currency_is_refused_clearly_and_never_converted(client: Client, simulators: Simulators,
                                                                        make_member: MakeMember, db: Database) -> None:
    member = await _member(client, simulators, make_member)
    ours, meta = await _linked(client, simulators, member, db, currency="EUR")
    assert meta.lifetime_budget == 5025  # the link stands, with the body's budget: ours is not pushed
    error = (await _shown(client, member, ours))["metaSync"]["error"]
    assert (error["action"], error["code"]) == ("set_budget", "CONFLICT")
    assert "EUR" in error["message"] and "USD" in error["message"] and "convert" in error["message"]

    url = f"/v1/campaigns/{ours['id']}"
    refused = await client.patch(url, headers=member.headers, json={"budget": 80})
    assert refused.status_code == 409
    body = (await refused.get_json())["error"]
    assert body["code"] == "CONFLICT" and body["details"][0]["field"] == "budget"
    assert (await _shown(client, member, ours))["budget"] == 5000 and meta.lifetime_budget == 5025

    launched = await client.post(f"{url}/launch", headers=member.headers)  # launches; the budget stays refused
    assert launched.status_code == 200 and meta.status == "ACTIVE" and meta.lifetime_budget == 5025
    assert [e["action"] for e in await _events(db, member.org_id, FAILED)] == ["set_budget", "set_budget", "launch"]

    fixed = await client.patch(url, headers=member.headers, json={"currency": "USD", "budget": 70})
    assert fixed.status_code == 200 and meta.lifetime_budget == 7000
    assert (await fixed.get_json())["metaSync"]["error"] is None


async def test_another_organization_cannot_see_or_push_the_budget(client: Client, simulators: Simulators,
                                                                   make_member: MakeMember, db: Database) -> None:
    member = await _member(client, simulators, make_member)
    ours, meta = await _linked(client, simulators, member, db)
    stranger = await _member(client, simulators, make_member)  # connected to the same Meta simulator
    url = f"/v1/campaigns/{ours['id']}"
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await client.patch(url, headers=stranger.headers, json={"budget": 1})).status_code == 404
    assert (await client.post(f"{url}/launch", headers=stranger.headers)).status_code == 404
    assert (meta.lifetime_budget, meta.status) == (500000, "PAUSED")
    listed = await (await client.get("/v1/campaigns", headers=stranger.headers)).get_json()
    assert listed["campaigns"] == []
    viewer = await make_member(org_id=member.org_id, role="viewer")
    assert (await client.patch(url, headers=viewer.headers, json={"budget": 1})).status_code == 403
    assert meta.lifetime_budget == 500000
    assert await _events(db, stranger.org_id, FAILED) == []
