"""`/v1/audiences` through Quart's test client against a real per-test PostgreSQL: custom audiences,
their lookalikes, and what each organization may see.

Rules of this file: each test creates its own organizations with ``make_member``; assertions are grouped
per behaviour to keep the number of databases (one per test) small; another organization's ids must
answer 404, exactly like unknown ids, and leave the row unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.http_api.conftest import MakeMember, Member
from tests.http_api.post import post_created

CRITERIA = {
    "ageMin": 18, "ageMax": 35, "genders": ["all"], "interests": ["electronic music", "festivals"],
    "behaviors": ["music streaming"], "locations": ["US", "CA"],
}  # fmt: skip
LOOKALIKE = {"name": "Lookalike - EDM Fans", "countries": ["US"], "ratio": 0.01}


async def _create(client: Client, member: Member, name: str = "EDM Fans 18-35") -> Any:
    return await post_created(client, member.headers, "/v1/audiences",
                              {"name": name, "description": "Young adults", "criteria": CRITERIA})


async def _lookalike(client: Client, member: Member, source_id: object) -> Any:
    url = f"/v1/audiences/{source_id}/lookalike"
    response = await client.post(url, headers=member.headers, json=LOOKALIKE)
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


def _fields(body: Any) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


async def test_a_member_creates_reads_changes_and_deletes_an_audience(
    client: Client, make_member: MakeMember
) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    created = await _create(client, member)
    assert (created["type"], created["criteria"], created["lookalike"]) == ("custom", CRITERIA, None)
    path = f"/v1/audiences/{created['id']}"
    assert await (await client.get(path, headers=member.headers)).get_json() == created
    patched = await client.patch(path, headers=member.headers,
                                 json={"description": None, "criteria": {"locations": ["DE"]}})
    assert patched.status_code == 200
    body = await patched.get_json()
    assert (body["name"], body["description"]) == ("EDM Fans 18-35", None)
    assert body["criteria"] == {"ageMin": None, "ageMax": None, "genders": [], "locations": ["DE"],
                                "interests": [], "behaviors": []}
    assert (await client.delete(path, headers=member.headers)).status_code == 204
    assert (await client.get(path, headers=member.headers)).status_code == 404


async def test_validation_names_every_bad_field(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    bad = {"name": "", "criteria": {"ageMin": 5, "locations": ["XX"], "behaviors": [""], "x": 1}}
    response = await client.post("/v1/audiences", headers=owner.headers, json=bad)
    assert response.status_code == 400
    assert _fields(await response.get_json()) == [
        "name", "criteria.x", "criteria.behaviors[0]", "criteria.ageMin", "criteria.locations[0]",
    ]
    upside_down = await client.post("/v1/audiences", headers=owner.headers,
                                    json={"name": "A", "criteria": {"ageMin": 40, "ageMax": 20}})
    assert _fields(await upside_down.get_json()) == ["criteria"]

    source = await _create(client, owner)
    url = f"/v1/audiences/{source['id']}/lookalike"
    for body, named in (
        ({"name": "L", "countries": [], "ratio": 0.3}, ["countries", "ratio"]),
        ({"name": "L", "countries": ["US"] * 26, "ratio": 0.001}, ["countries", "ratio"]),
        ({"name": "L", "countries": ["US", "US"], "ratio": 0.1}, ["countries"]),
        ({"countries": ["ZZ"], "ratio": "0.1", "extra": True}, ["extra", "name", "countries[0]", "ratio"]),
    ):
        response = await client.post(url, headers=owner.headers, json=body)
        assert response.status_code == 400, body
        assert _fields(await response.get_json()) == named


async def test_lookalikes_are_children_of_a_custom_source(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    source = await _create(client, owner)
    child = await _lookalike(client, owner, source["id"])
    assert (child["type"], child["sourceAudienceId"]) == ("lookalike", source["id"])
    assert child["criteria"] == {"ageMin": None, "ageMax": None, "genders": [], "locations": [],
                                 "interests": [], "behaviors": []}
    assert child["lookalike"] == {"countries": ["US"], "ratio": 0.01}

    nested = await client.post(f"/v1/audiences/{child['id']}/lookalike", headers=owner.headers,
                               json=LOOKALIKE)
    assert nested.status_code == 409
    body = await nested.get_json()
    assert (body["error"]["code"], _fields(body)) == ("CONFLICT", ["sourceAudienceId"])
    no_criteria = await client.patch(f"/v1/audiences/{child['id']}", headers=owner.headers,
                                     json={"criteria": CRITERIA})
    assert no_criteria.status_code == 409
    assert _fields(await no_criteria.get_json()) == ["criteria"]
    renamed = await client.patch(f"/v1/audiences/{child['id']}", headers=owner.headers, json={"name": "LAL"})
    assert (await renamed.get_json())["name"] == "LAL"
    missing = await client.post(f"/v1/audiences/{uuid.uuid4()}/lookalike", headers=owner.headers,
                                json=LOOKALIKE)
    assert missing.status_code == 404

    assert (await client.delete(f"/v1/audiences/{source['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/v1/audiences/{child['id']}", headers=owner.headers)).status_code == 404


async def test_list_pages_and_searches_literally(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for name in ("100% fans", "100 fans", "Other"):
        await _create(client, owner, name)
    first = await (await client.get("/v1/audiences?limit=2", headers=owner.headers)).get_json()
    assert [a["name"] for a in first["audiences"]] == ["Other", "100 fans"]
    assert first["pagination"] == {"total": 3, "limit": 2, "offset": 0, "hasNext": True}
    rest = await (await client.get("/v1/audiences?limit=2&offset=2", headers=owner.headers)).get_json()
    assert ([a["name"] for a in rest["audiences"]], rest["pagination"]["hasNext"]) == (["100% fans"], False)
    found = await (await client.get("/v1/audiences?search=0%25", headers=owner.headers)).get_json()
    assert [a["name"] for a in found["audiences"]] == ["100% fans"]
    assert (await client.get("/v1/audiences?offset=x", headers=owner.headers)).status_code == 400


async def test_viewers_read_but_every_write_is_403(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    audience = await _create(client, owner)
    path = f"/v1/audiences/{audience['id']}"
    assert (await client.get("/v1/audiences", headers=viewer.headers)).status_code == 200
    assert (await client.get(path, headers=viewer.headers)).status_code == 200
    for method, url, body in (("POST", "/v1/audiences", {"name": "A"}), ("PATCH", path, {"name": "B"}),
                              ("DELETE", path, None), ("POST", f"{path}/lookalike", LOOKALIKE)):
        response = await client.open(url, method=method, headers=viewer.headers, json=body)
        assert response.status_code == 403, (method, url)
    listed = await (await client.get("/v1/audiences", headers=owner.headers)).get_json()
    assert listed["audiences"] == [audience]


async def test_another_organization_sees_404_and_changes_nothing(
    client: Client, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    audience = await _create(client, owner)
    await _create(client, stranger, "Theirs")
    path = f"/v1/audiences/{audience['id']}"
    calls = [("GET", path, None), ("PATCH", path, {"name": "Stolen"}), ("DELETE", path, None),
             ("POST", f"{path}/lookalike", LOOKALIKE), ("GET", f"/v1/audiences/{uuid.uuid4()}", None)]
    for method, url, body in calls:
        response = await client.open(url, method=method, headers=stranger.headers, json=body)
        assert response.status_code == 404, (method, url)
        assert (await response.get_json())["error"]["code"] == "NOT_FOUND"
    listed = await (await client.get("/v1/audiences", headers=owner.headers)).get_json()
    assert listed["audiences"] == [audience]  # unchanged, and no lookalike was added
    theirs = await (await client.get("/v1/audiences", headers=stranger.headers)).get_json()
    assert [a["name"] for a in theirs["audiences"]] == ["Theirs"]
