"""`/v1/campaigns` through Quart's test client against a real per-test PostgreSQL: the fields, the
lifecycle routes, and what each organization may see.

Rules of this file: each test creates its own organizations with ``make_member`` and its tracks through
the store; assertions are grouped per behaviour to keep the number of databases (one per test) small;
another organization's ids must answer 404, exactly like unknown ids, and leave the row unchanged.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, get_args

import trio
from quart.typing import TestClientProtocol as Client

from engine.store.campaigns import SORT_KEYS
from engine.store.database import Database
from http_api.catalog.audiences import audiences_router
from http_api.catalog.campaigns import campaigns_router
from http_api.catalog.campaigns_schemas import SortKey
from http_api.catalog.tracks import tracks_router
from http_api.context import ApiContext
from http_api.openapi import build_openapi
from tests.helpers.factories import create_track
from tests.http_api.conftest import MakeMember, Member
from tests.http_api.post import post_created

BODY = {
    "name": "Summer Release", "budget": 5000, "currency": "USD", "objective": "streams",
    "startDate": "2024-06-01T00:00:00Z", "endDate": "2024-08-31T23:59:59Z",
}  # fmt: skip
# The reference's dates are past at the tests' clock (EPOCH, 2027-01-15): a campaign to launch runs around it.
RUNNING = {"startDate": "2027-01-01T00:00:00Z", "endDate": "2027-03-31T23:59:59Z"}


async def _create(client: Client, member: Member, **fields: object) -> Any:
    return await post_created(client, member.headers, "/v1/campaigns", BODY | fields)


async def _post(client: Client, member: Member, path: str) -> tuple[int, Any]:
    response = await client.post(path, headers=member.headers)
    return response.status_code, await response.get_json()


def _fields(body: Any) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


async def test_a_member_creates_a_draft_with_everything_the_reference_lists(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    track_id = str(await create_track(db, owner.org_id, title="Summer Vibes", artist="Ana"))
    audience = {
        "ageMin": 18, "ageMax": 35, "genders": ["all"], "locations": ["US", "GB"], "interests": ["music"],
    }  # fmt: skip
    assets = {"imageUrl": "https://cdn.example.com/i.jpg", "headline": "Listen Now"}
    goals = [{"metric": "streams", "target": 10000}, {"metric": "clicks", "target": 500}]  # stored by metric
    created = await _create(client, member, description="New single", trackId=track_id,
                            targetAudience=audience, creativeAssets=assets, goals=goals)
    assert created["status"] == "draft"
    assert (created["budget"], created["budgetSpent"], created["currency"]) == (5000.0, 0.0, "USD")
    assert created["track"] == {"id": track_id, "title": "Summer Vibes", "artist": "Ana"}
    assert created["targetAudience"] == audience
    assert created["creativeAssets"] == assets | {"videoUrl": None, "description": None}
    assert created["goals"] == goals[::-1]
    assert created["metrics"] == {"impressions": 0, "clicks": 0, "streams": 0}
    assert (created["startDate"], created["launchedAt"]) == ("2024-06-01T00:00:00Z", None)
    fetched = await client.get(f"/v1/campaigns/{created['id']}", headers=member.headers)
    assert await fetched.get_json() == created
    minimal = await _create(client, member)  # objective, currency, audience, assets and goals have defaults
    assert (minimal["objective"], minimal["trackId"], minimal["goals"]) == ("streams", None, [])


async def test_uk_is_taken_as_gb_the_iso_code_meta_knows(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    created = await _create(client, owner, targetAudience={"locations": ["US", "CA", "UK"]})
    assert created["targetAudience"]["locations"] == ["US", "CA", "GB"]
    path = f"/v1/campaigns/{created['id']}"
    patched = await client.patch(path, json={"targetAudience": {"locations": ["UK"]}}, headers=owner.headers)
    assert (await patched.get_json())["targetAudience"]["locations"] == ["GB"]


async def test_validation_names_every_bad_field(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    bad = {
        "name": "", "budget": 0, "currency": "usd", "objective": "likes", "startDate": "2024-06-01T00:00:00",
        "endDate": "soon", "trackId": "nope", "targetAudience": {"ageMin": 12, "genders": ["robot"],
        "locations": ["XX"]}, "creativeAssets": {"imageUrl": "ftp://x"}, "goals": [{"metric": "streams",
        "target": 0}], "colour": "red",
    }  # fmt: skip
    response = await client.post("/v1/campaigns", headers=owner.headers, json=bad)
    assert response.status_code == 400
    assert sorted(_fields(await response.get_json())) == sorted([
        "colour", "name", "budget", "startDate", "endDate", "objective", "currency", "trackId",
        "targetAudience.ageMin", "targetAudience.genders[0]", "targetAudience.locations[0]",
        "creativeAssets.imageUrl", "goals[0].target",
    ])
    for fields, named in (
        ({"endDate": BODY["startDate"]}, "endDate"),
        ({"startDate": "1999-12-31T00:00:00Z"}, "startDate"),
        ({"targetAudience": {"ageMin": 30, "ageMax": 20}}, "targetAudience"),
        ({"goals": [{"metric": "streams", "target": 1}, {"metric": "streams", "target": 2}]}, "goals"),
    ):
        response = await client.post("/v1/campaigns", headers=owner.headers, json=BODY | fields)
        assert response.status_code == 400, fields
        assert _fields(await response.get_json()) == [named]


async def test_a_track_of_another_organization_is_not_found(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    theirs = str(await create_track(db, stranger.org_id))
    for track_id in (theirs, str(uuid.uuid4())):
        response = await client.post("/v1/campaigns", headers=owner.headers,
                                     json=BODY | {"trackId": track_id})
        assert response.status_code == 404
        body = await response.get_json()
        assert (body["error"]["code"], _fields(body)) == ("NOT_FOUND", ["trackId"])
    campaign = await _create(client, owner)
    response = await client.patch(f"/v1/campaigns/{campaign['id']}", headers=owner.headers,
                                  json={"trackId": theirs, "name": "Renamed"})
    assert response.status_code == 404
    assert _fields(await response.get_json()) == ["trackId"]
    after = await (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).get_json()
    assert (after["name"], after["trackId"]) == ("Summer Release", None)


async def test_patch_changes_only_what_it_names(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    track_id = str(await create_track(db, owner.org_id))
    campaign = await _create(client, owner, description="Old", trackId=track_id,
                             goals=[{"metric": "streams", "target": 100}])
    path = f"/v1/campaigns/{campaign['id']}"
    response = await client.patch(path, headers=owner.headers, json={
        "name": "Renamed", "description": None, "goals": [{"metric": "clicks", "target": 7}],
        "targetAudience": {"locations": ["FR"]},
    })
    assert response.status_code == 200
    patched = await response.get_json()
    assert (patched["name"], patched["description"], patched["trackId"]) == ("Renamed", None, track_id)
    assert patched["goals"] == [{"metric": "clicks", "target": 7}]
    assert patched["targetAudience"]["locations"] == ["FR"]
    assert patched["budget"] == campaign["budget"]

    # endDate is checked against the stored startDate, and startDate against the stored endDate.
    for body in ({"endDate": "2024-05-01T00:00:00Z"}, {"startDate": "2024-09-01T01:00:00+01:00"}):
        refused = await client.patch(path, headers=owner.headers, json=body)
        assert refused.status_code == 400, body
        assert _fields(await refused.get_json()) == ["endDate"]
    for bad in ({"name": None}, {"budget": -5}, {"status": "running"}, {"goals": None}):
        assert (await client.patch(path, headers=owner.headers, json=bad)).status_code == 400, bad
    unchanged = await (await client.get(path, headers=owner.headers)).get_json()
    assert unchanged == patched


async def test_list_filters_searches_sorts_and_pages(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for name, budget in (("B 100% fans", 300), ("A 100 fans", 100), ("C_under", 200)):
        await _create(client, owner, name=name, budget=budget)
    archived = await _create(client, owner, name="D archived", budget=50)
    await client.patch(f"/v1/campaigns/{archived['id']}", headers=owner.headers, json={"status": "archived"})

    async def names(query: str) -> list[str]:
        body = await (await client.get(f"/v1/campaigns?{query}", headers=owner.headers)).get_json()
        return [c["name"] for c in body["campaigns"]]

    assert await names("") == ["D archived", "C_under", "A 100 fans", "B 100% fans"]
    assert await names("sort=budget&order=asc") == ["D archived", "A 100 fans", "C_under", "B 100% fans"]
    assert await names("sort=name&order=desc&status=draft") == ["C_under", "B 100% fans", "A 100 fans"]
    assert await names("status=archived") == ["D archived"]
    assert await names("search=100%25") == ["B 100% fans"]
    assert await names("search=c_") == ["C_under"]  # as a wildcard, "c_" would match "archived" too
    page = await (await client.get("/v1/campaigns?sort=name&order=asc&limit=3&offset=1",
                                   headers=owner.headers)).get_json()
    assert [c["name"] for c in page["campaigns"]] == ["B 100% fans", "C_under", "D archived"]
    assert page["pagination"] == {"total": 4, "limit": 3, "offset": 1, "hasNext": False}
    first = await (await client.get("/v1/campaigns?limit=3", headers=owner.headers)).get_json()
    assert first["pagination"]["hasNext"] is True
    bad = await client.get("/v1/campaigns?sort=spend&order=up&status=live&limit=500", headers=owner.headers)
    assert bad.status_code == 400
    assert sorted(_fields(await bad.get_json())) == ["limit", "order", "sort", "status"]


def test_the_sort_whitelist_is_the_stores() -> None:
    assert set(get_args(SortKey)) == SORT_KEYS


async def test_every_catalog_route_is_documented(ctx: ApiContext) -> None:
    routers = [tracks_router(ctx), campaigns_router(ctx), audiences_router(ctx)]
    doc: Any = build_openapi([ep for router in routers for ep in router.endpoints], version="test")
    operations = {(method, path): op for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert len(operations) == 20
    assert set(operations[("post", "/v1/audiences/{audience_id}/sync/meta")]["responses"]) >= {"200", "409", "502"}
    launch = operations[("post", "/v1/campaigns/{campaign_id}/launch")]
    assert set(launch["responses"]) >= {"200", "404", "409"}
    delete = operations[("delete", "/v1/audiences/{audience_id}")]
    assert set(delete["responses"]) >= {"204", "403", "404"}
    assert "lookalike" in delete["description"]
    campaign = doc["components"]["schemas"]["Campaign"]["properties"]
    assert campaign["targetAudience"] == {"$ref": "#/components/schemas/Targeting"}
    query = {p["name"] for p in operations[("get", "/v1/campaigns")]["parameters"]}
    assert query == {"search", "limit", "offset", "status", "sort", "order"}


async def test_the_lifecycle_through_its_routes(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, **RUNNING, trackId=str(await create_track(db, owner.org_id)))
    path = f"/v1/campaigns/{campaign['id']}"
    for action, status in (("launch", "active"), ("pause", "paused"), ("launch", "active"),
                           ("pause", "paused"), ("archive", "archived")):
        code, body = await _post(client, owner, f"{path}/{action}")
        assert (code, body["status"]) == (200, status), action
        assert body["launchedAt"] is not None
        if status == "paused":
            code, body = await _post(client, owner, f"{path}/pause")
            assert code == 409
            assert "paused" in body["error"]["message"]
            allowed = [{"field": "status", "message": "allowed from paused: launch, archive"}]
            assert body["error"]["details"] == allowed
    code, body = await _post(client, owner, f"{path}/launch")
    assert code == 409
    assert body["error"]["code"] == "CONFLICT"
    assert "archived" in body["error"]["message"]
    assert body["error"]["details"] == [
        {"field": "status", "message": "allowed from archived: none, it is final"}
    ]


async def _announced(db: Database, member: Member) -> list[tuple[str, dict[str, Any]]]:
    """The organization's webhook events so far, oldest first: (type, data)."""
    rows = await db.fetch("SELECT type, payload::text FROM webhook_events WHERE organization_id = $1"
                          " ORDER BY created_at", member.org_id)
    return [(row["type"], json.loads(row["payload"])["data"]) for row in rows]


async def test_each_change_is_announced_once_with_what_really_changed(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    track = str(await create_track(db, owner.org_id))
    campaign = await _create(client, owner, **RUNNING, trackId=track)
    path, base = f"/v1/campaigns/{campaign['id']}", {"campaignId": campaign["id"], "campaignName": "Summer Release"}
    for change in ({"name": "Summer Release", "budget": 6000}, {"budget": 6000}):  # the second changes nothing
        response = await client.patch(path, headers=owner.headers, json=change)
        assert response.status_code == 200, await response.get_json()
    for action in ("launch", "pause", "launch"):
        assert (await _post(client, owner, f"{path}/{action}"))[0] == 200, action
    completed = await client.patch(path, headers=owner.headers, json={"status": "completed"})  # by a member
    assert completed.status_code == 200, await completed.get_json()
    assert (await _post(client, owner, f"{path}/archive"))[0] == 200
    assert await _announced(db, owner) == [
        ("campaign.created", {**base, "status": "draft", "trackId": track, "budget": 5000.0, "currency": "USD",
                              "startDate": "2027-01-01T00:00:00Z", "endDate": "2027-03-31T23:59:59Z"}),
        ("campaign.updated", {**base, "changes": {"budget": 6000.0}}),
        ("campaign.budget_changed", {**base, "budget": 6000.0, "previousBudget": 5000.0, "currency": "USD",
                                     "cause": {"userId": str(owner.user_id)}}),
        ("campaign.launched", {**base, "status": "active", "previousStatus": "draft"}),
        ("campaign.paused", {**base, "status": "paused", "previousStatus": "active",
                             "cause": {"userId": str(owner.user_id)}}),
        ("campaign.resumed", {**base, "status": "active", "previousStatus": "paused",
                              "cause": {"userId": str(owner.user_id)}}),
        ("campaign.completed", {**base, "endDate": "2027-03-31T23:59:59Z", "budgetSpent": 0.0, "currency": "USD",
                                "metrics": {"impressions": 0, "clicks": 0, "streams": 0}}),
        ("campaign.updated", {**base, "changes": {"status": "archived"}}),
    ]


async def test_a_campaign_past_its_end_date_cannot_launch(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, trackId=str(await create_track(db, owner.org_id)))  # ended 2024-08-31
    code, body = await _post(client, owner, f"/v1/campaigns/{campaign['id']}/launch")
    assert (code, body["error"]["code"]) == (409, "CONFLICT")
    assert "2024-08-31T23:59:59" in body["error"]["message"] and _fields(body) == ["endDate"]
    assert (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).status_code == 200
    assert [kind for kind, _ in await _announced(db, owner)] == ["campaign.created"]


async def test_illegal_transitions_say_what_is_allowed(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, **RUNNING)
    path = f"/v1/campaigns/{campaign['id']}"
    code, body = await _post(client, owner, f"{path}/pause")
    assert code == 409
    assert body["error"]["details"] == [{"field": "status", "message": "allowed from draft: launch, archive"}]
    assert "draft" in body["error"]["message"]

    code, body = await _post(client, owner, f"{path}/launch")  # no track yet
    assert (code, body["error"]["code"], _fields(body)) == (409, "CONFLICT", ["trackId"])
    assert (await (await client.get(path, headers=owner.headers)).get_json())["status"] == "draft"

    refused = await client.patch(path, headers=owner.headers, json={"status": "completed", "name": "X"})
    assert refused.status_code == 409
    assert (await refused.get_json())["error"]["details"] == [
        {"field": "status", "message": "allowed from draft: launch, archive"}
    ]
    unchanged = await (await client.get(path, headers=owner.headers)).get_json()
    assert (unchanged["status"], unchanged["name"]) == ("draft", "Summer Release")  # rolled back together

    # A track and a launch in one PATCH; then the same status again changes nothing.
    track_id = str(await create_track(db, owner.org_id))
    launched = await client.patch(path, headers=owner.headers, json={"trackId": track_id, "status": "active"})
    assert (await launched.get_json())["status"] == "active"
    again = await client.patch(path, headers=owner.headers, json={"status": "active"})
    assert (again.status_code, (await again.get_json())["status"]) == (200, "active")
    code, body = await _post(client, owner, f"{path}/archive")
    assert (code, body["error"]["details"][0]["message"]) == (409, "allowed from active: pause")
    completed = await client.patch(path, headers=owner.headers, json={"status": "completed"})
    assert (await completed.get_json())["status"] == "completed"
    back = await client.patch(path, headers=owner.headers, json={"status": "draft"})
    assert back.status_code == 409
    assert (await back.get_json())["error"]["details"][0]["message"] == "allowed from completed: archive"


async def test_concurrent_launches_have_one_winner(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, **RUNNING, trackId=str(await create_track(db, owner.org_id)))
    codes: list[int] = []

    async def launch() -> None:
        codes.append((await _post(client, owner, f"/v1/campaigns/{campaign['id']}/launch"))[0])

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(launch)
    assert sorted(codes) == [200, 409, 409]


async def test_an_active_campaign_is_paused_before_it_is_deleted(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    campaign = await _create(client, owner, **RUNNING, trackId=str(await create_track(db, owner.org_id)))
    path = f"/v1/campaigns/{campaign['id']}"
    await _post(client, owner, f"{path}/launch")
    refused = await client.delete(path, headers=owner.headers)
    assert refused.status_code == 409
    error = (await refused.get_json())["error"]
    assert "paused" in error["message"]
    assert (await client.get(path, headers=owner.headers)).status_code == 200
    await _post(client, owner, f"{path}/pause")
    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    for method in ("GET", "DELETE"):
        response = await client.open(path, method=method, headers=owner.headers, json=None)
        assert response.status_code == 404
        assert (await response.get_json())["error"]["code"] == "NOT_FOUND"


async def test_viewers_read_but_every_write_is_403(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    campaign = await _create(client, owner)
    path = f"/v1/campaigns/{campaign['id']}"
    assert (await client.get("/v1/campaigns", headers=viewer.headers)).status_code == 200
    assert (await client.get(path, headers=viewer.headers)).status_code == 200
    writes = [("POST", "/v1/campaigns", BODY), ("PATCH", path, {"name": "X"}), ("DELETE", path, None)]
    writes += [("POST", f"{path}/{action}", None) for action in ("launch", "pause", "archive")]
    for method, url, body in writes:
        response = await client.open(url, method=method, headers=viewer.headers, json=body)
        assert response.status_code == 403, (method, url)
    assert await (await client.get(path, headers=owner.headers)).get_json() == campaign


async def test_another_organization_sees_404_and_changes_nothing(
    client: Client, db: Database, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    campaign = await _create(client, owner, trackId=str(await create_track(db, owner.org_id)))
    await _create(client, stranger, name="Theirs")
    path = f"/v1/campaigns/{campaign['id']}"
    calls = [("GET", path, None), ("PATCH", path, {"name": "Stolen", "status": "active"}),
             ("DELETE", path, None)]
    calls += [("POST", f"{path}/{action}", None) for action in ("launch", "pause", "archive")]
    calls += [("GET", f"/v1/campaigns/{uuid.uuid4()}", None)]
    for method, url, body in calls:
        response = await client.open(url, method=method, headers=stranger.headers, json=body)
        assert response.status_code == 404, (method, url)
        assert (await response.get_json())["error"]["code"] == "NOT_FOUND"
    assert await (await client.get(path, headers=owner.headers)).get_json() == campaign
    listed = await (await client.get("/v1/campaigns", headers=stranger.headers)).get_json()
    assert [c["name"] for c in listed["campaigns"]] == ["Theirs"]
    assert listed["pagination"]["total"] == 1
