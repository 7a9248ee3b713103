"""The rules' routes are sealed between organizations: another organization's rule or campaign answers 404
on every route that takes its id, an ``appliesTo`` or ``campaignIds`` naming another organization's campaign
or track answers 422 as if it did not exist, lists never show another organization's rules or history, and
nothing of the victim's changes. (tests/http_api/test_cross_organization.py runs every route of the API.)
"""

from __future__ import annotations

import uuid
from typing import Any

from quart.typing import TestClientProtocol as Client

from engine.store.database import Database
from tests.helpers.factories import create_track
from tests.http_api.conftest import MakeMember, Member
from tests.http_api.post import post_created
from tests.http_api.rules.test_rules import EXAMPLE

CAMPAIGN = {"name": "Summer", "budget": 100, "startDate": "2027-01-01T00:00:00Z", "endDate": "2027-03-31T23:59:59Z"}


async def _victims(client: Client, db: Database, victim: Member) -> dict[str, str]:
    track = await create_track(db, victim.org_id)
    campaign = await post_created(client, victim.headers, "/v1/campaigns", CAMPAIGN | {"trackId": str(track)})
    await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=victim.headers)  # a manual entry
    rule = await post_created(client, victim.headers, "/v1/rules", EXAMPLE)
    return {"rule": rule["id"], "campaign": campaign["id"], "track": str(track)}


async def _view(client: Client, member: Member, ids: dict[str, str]) -> list[Any]:
    paths = ["/v1/rules", f"/v1/rules/{ids['rule']}", f"/v1/rules/{ids['rule']}/history",
             f"/v1/campaigns/{ids['campaign']}/history"]
    return [await (await client.get(path, headers=member.headers)).get_json() for path in paths]


async def test_another_organizations_rules_and_campaigns_are_not_found(client: Client, db: Database,
                                                                       make_member: MakeMember) -> None:
    victim, intruder = await make_member(), await make_member()
    ids = await _victims(client, db, victim)
    before = await _view(client, victim, ids)
    rule = f"/v1/rules/{ids['rule']}"
    for method, path, body in (
            ("GET", rule, None), ("PATCH", rule, {"name": "Hijacked", "status": "inactive"}),
            ("DELETE", rule, None), ("POST", f"{rule}/enable", None), ("POST", f"{rule}/disable", None),
            ("GET", f"{rule}/history", None), ("POST", f"{rule}/preview", {}),
            ("GET", f"/v1/campaigns/{ids['campaign']}/history", None),
            ("GET", f"/v1/rules/{uuid.uuid4()}", None), ("GET", f"/v1/campaigns/{uuid.uuid4()}/history", None)):
        response = await client.open(path, method=method, headers=intruder.headers, json=body)
        answer = await response.get_json()
        assert (response.status_code, answer["error"]["code"]) == (404, "NOT_FOUND"), (method, path)
        assert ids["rule"] not in str(answer) and ids["campaign"] not in str(answer)
    own = await post_created(client, intruder.headers, "/v1/rules", EXAMPLE)
    for members, field in (({"appliesTo": {"campaigns": [ids["campaign"]]}}, "appliesTo.campaigns[0]"),
                           ({"appliesTo": {"tracks": [ids["track"]]}}, "appliesTo.tracks[0]")):
        for method, path, body in (("POST", "/v1/rules", EXAMPLE | members),
                                   ("PATCH", f"/v1/rules/{own['id']}", members),
                                   ("POST", "/v1/rules/preview", EXAMPLE | members)):
            response = await client.open(path, method=method, headers=intruder.headers, json=body)
            answer = await response.get_json()
            assert (response.status_code, [d["field"] for d in answer["error"]["details"]]) == (422, [field]), path
    response = await client.post(f"/v1/rules/{own['id']}/preview", headers=intruder.headers,
                                 json={"campaignIds": [ids["campaign"]]})
    assert (response.status_code, (await response.get_json())["error"]["details"][0]["field"]) == (
        422, "campaignIds[0]")
    listed = await (await client.get("/v1/rules", headers=intruder.headers)).get_json()
    assert [r["id"] for r in listed["rules"]] == [own["id"]]
    assert await _view(client, victim, ids) == before
