"""`/v1/rules` against a real per-test PostgreSQL: the issue's example created verbatim and read back, PATCH
member by member, enable and disable, every fault of a rule a 422 naming its path, and roles.

Rules of this file: organizations from ``make_member``; campaigns and tracks through the API or the store's
factories; a 422 names exactly the member at fault, as ``engine.rules.model.parse_spec`` spells its path.
"""

from __future__ import annotations

import uuid
from typing import Any

from quart.typing import TestClientProtocol as Client

from engine.store.database import Database
from tests.helpers.factories import create_campaign, create_track
from tests.http_api.conftest import MakeMember, Member
from tests.http_api.post import post_created

CONDITION = {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "0.05", "durationHours": 48}
EXAMPLE = {"name": "Pause costly streams", "condition": CONDITION, "action": {"type": "pause_campaign", "config": {}},
           "appliesTo": {"campaigns": None}, "cooldownHours": 24}
SECOND = {"field": "spend", "operator": "gte", "value": {"field": "budget", "multiplier": 2}}


async def _send(client: Client, member: Member, method: str, path: str, body: object = None) -> tuple[int, Any]:
    response = await client.open(path, method=method, headers=member.headers, json=body)
    return response.status_code, await response.get_json()


async def test_the_issues_example_round_trips(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE)
    assert {key: rule[key] for key in EXAMPLE} == EXAMPLE | {"appliesTo": {"campaigns": None, "tracks": None}}
    assert rule | {"id": None, "createdAt": None, "updatedAt": None} == {
        **EXAMPLE, "id": None, "description": None, "status": "active", "dryRun": False, "conditions": [CONDITION],
        "match": "all", "appliesTo": {"campaigns": None, "tracks": None}, "lastEvaluatedAt": None,
        "lastTriggeredAt": None, "triggerCount": 0, "createdAt": None, "updatedAt": None}
    assert await _send(client, owner, "GET", f"/v1/rules/{rule['id']}") == (200, rule)
    code, listed = await _send(client, owner, "GET", "/v1/rules")
    assert (code, listed["rules"], listed["pagination"]["total"]) == (200, [rule], 1)


async def test_patch_replaces_the_members_sent_and_checks_the_whole_rule(client: Client,
                                                                        make_member: MakeMember) -> None:
    owner = await make_member()
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE | {"dryRun": True})
    path = f"/v1/rules/{rule['id']}"
    code, both = await _send(client, owner, "PATCH", path, {"conditions": [CONDITION, SECOND], "match": "any"})
    assert (code, both["condition"], both["match"], both["dryRun"]) == (200, None, "any", True)
    assert both["conditions"] == [CONDITION, {**SECOND, "durationHours": None}]
    code, renamed = await _send(client, owner, "PATCH", path, {"name": "Renamed", "description": "why"})
    assert (code, renamed["conditions"], renamed["name"], renamed["description"]) == (
        200, both["conditions"], "Renamed", "why")
    code, one = await _send(client, owner, "PATCH", path, {"condition": CONDITION, "cooldownHours": 0})
    assert (code, one["condition"], one["conditions"], one["cooldownHours"], one["match"]) == (
        200, CONDITION, [CONDITION], 0, "any")
    code, refused = await _send(client, owner, "PATCH", path, {"action": {"type": "adjust_budget", "config": {}}})
    assert (code, refused["error"]["details"][0]["field"]) == (422, "action.config.adjustmentType")
    assert await _send(client, owner, "GET", path) == (200, one)  # a refused PATCH changes nothing
    assert (await _send(client, owner, "DELETE", path))[0] == 204
    assert (await _send(client, owner, "GET", path))[0] == 404
    assert (await _send(client, owner, "DELETE", path))[0] == 404


async def test_enable_and_disable(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE | {"status": "inactive"})
    for verb, status in (("enable", "active"), ("enable", "active"), ("disable", "inactive"),
                         ("disable", "inactive")):
        code, body = await _send(client, owner, "POST", f"/v1/rules/{rule['id']}/{verb}")
        assert (code, body["status"]) == (200, status), verb
        listed = (await _send(client, owner, "GET", f"/v1/rules?status={status}"))[1]["rules"]
        assert [r["id"] for r in listed] == [rule["id"]]
    code, patched = await _send(client, owner, "PATCH", f"/v1/rules/{rule['id']}", {"status": "active"})
    assert (code, patched["status"]) == (200, "active")


def _faults(campaign: str) -> list[tuple[dict[str, Any], str]]:
    """A body's members that break it, and the path the 422 names."""
    def cond(**change: object) -> dict[str, Any]:
        return {"condition": CONDITION | change}
    budget = {"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": -20}}
    return [
        (cond(field="roas"), "condition.field"), (cond(operator="bigger"), "condition.operator"),
        (cond(value="cheap"), "condition.value"), (cond(durationHours=0), "condition.durationHours"),
        (cond(value=["0.1", "x"], operator="in"), "condition.value[1]"), (cond(unit="usd"), "condition.unit"),
        (cond(operator="contains"), "condition.value"), (cond(field="status", value="active"), "condition.value"),
        (cond(value={"field": "status"}), "condition.value.field"), ({"condition": None}, "condition"),
        ({"conditions": [CONDITION]}, "condition"), ({"condition": None, "conditions": []}, "conditions"),
        ({"condition": None, "conditions": [CONDITION, {**CONDITION, "field": "x"}]}, "conditions[1].field"),
        ({"match": "some"}, "match"), ({"action": {"type": "notify_slack", "config": {}}}, "action.type"),
        ({"action": None}, "action.type"), ({"action": {"type": "pause_campaign", "config": "none"}}, "action.config"),
        ({"action": {**budget, "config": {"adjustmentType": "percent"}}}, "action.config.value"),
        ({"action": {**budget, "config": {**budget["config"], "floor": 50, "cap": 10}}}, "action.config.floor"),
        ({"action": {**budget, "config": {**budget["config"], "maxStepPercent": 0}}}, "action.config.maxStepPercent"),
        ({"action": {"type": "send_alert", "config": {"message": 5}}}, "action.config.message"),
        ({"appliesTo": "all"}, "appliesTo"), ({"appliesTo": {"campaigns": "all"}}, "appliesTo.campaigns"),
        ({"appliesTo": {"tracks": ["nope"]}}, "appliesTo.tracks"),
        ({"appliesTo": {"campaigns": [campaign, str(uuid.uuid4())]}}, "appliesTo.campaigns[1]"),
        ({"cooldownHours": -1}, "cooldownHours"), ({"cooldownHours": 8761}, "cooldownHours"),
        ({"cooldownHours": "24"}, "cooldownHours"),
    ]


async def test_every_fault_of_a_rule_is_a_422_naming_its_path(client: Client, db: Database,
                                                              make_member: MakeMember) -> None:
    owner = await make_member()
    campaign = str(await create_campaign(db, owner.org_id))
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE)
    for members, field in _faults(campaign):
        for method, path in (("POST", "/v1/rules"), ("PATCH", f"/v1/rules/{rule['id']}"),
                             ("POST", "/v1/rules/preview")):
            body = (EXAMPLE | members) if method == "POST" else members
            if method == "PATCH" and field == "condition":
                continue  # a PATCH without a condition keeps the stored one; its conditions replace it
            code, answer = await _send(client, owner, method, path, body)
            assert code == 422, (method, path, members, answer)
            assert answer["error"]["code"] == "VALIDATION_ERROR"
            assert [d["field"] for d in answer["error"]["details"]] == [field], (method, members, answer)
    assert (await _send(client, owner, "GET", f"/v1/rules/{rule['id']}"))[1] == rule
    assert (await _send(client, owner, "GET", "/v1/rules"))[1]["pagination"]["total"] == 1


async def test_a_body_of_another_shape_is_a_400_as_everywhere(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for body, field in (({**EXAMPLE, "name": 5}, "name"), ({k: v for k, v in EXAMPLE.items() if k != "name"}, "name"),
                        ({**EXAMPLE, "applies_to": {}}, "applies_to"), ({**EXAMPLE, "status": "paused"}, "status")):
        code, answer = await _send(client, owner, "POST", "/v1/rules", body)
        assert (code, [d["field"] for d in answer["error"]["details"]]) == (400, [field])


async def test_applies_to_takes_the_organizations_campaigns_and_tracks(client: Client, db: Database,
                                                                       make_member: MakeMember) -> None:
    owner, other = await make_member(), await make_member()
    mine, track = await create_campaign(db, owner.org_id), await create_track(db, owner.org_id)
    theirs, their_track = await create_campaign(db, other.org_id), await create_track(db, other.org_id)
    scope = {"campaigns": [str(mine)], "tracks": [str(track)]}
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE | {"appliesTo": scope})
    assert rule["appliesTo"] == scope
    for foreign, field in (({"campaigns": [str(theirs)]}, "appliesTo.campaigns[0]"),
                           ({"tracks": [str(track), str(their_track)]}, "appliesTo.tracks[1]")):
        for method, path in (("POST", "/v1/rules"), ("PATCH", f"/v1/rules/{rule['id']}")):
            code, answer = await _send(client, owner, method, path, {**EXAMPLE, "appliesTo": foreign})
            assert (code, answer["error"]["details"]) == (422, [
                {"field": field, "message": "no such campaign or track in your organization"}]), method
            assert str(theirs) not in answer["error"]["message"]
    # A campaign deleted since is no fault of a change that leaves the scope as it is.
    assert (await _send(client, owner, "DELETE", f"/v1/campaigns/{mine}"))[0] == 204
    code, changed = await _send(client, owner, "PATCH", f"/v1/rules/{rule['id']}", {"condition": CONDITION})
    assert (code, changed["appliesTo"]) == (200, scope)
    code, answer = await _send(client, owner, "PATCH", f"/v1/rules/{rule['id']}", {"appliesTo": scope})
    assert (code, answer["error"]["details"][0]["field"]) == (422, "appliesTo.campaigns[0]")


async def test_viewers_read_and_preview_but_every_write_is_403(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE)
    path = f"/v1/rules/{rule['id']}"
    for method, url in (("GET", "/v1/rules"), ("GET", path), ("GET", f"{path}/history"), ("POST", f"{path}/preview")):
        assert (await _send(client, viewer, method, url, {} if method == "POST" else None))[0] == 200, url
    for method, url, body in (("POST", "/v1/rules", EXAMPLE), ("PATCH", path, {"name": "x"}), ("DELETE", path, None),
                              ("POST", f"{path}/enable", None), ("POST", f"{path}/disable", None)):
        code, answer = await _send(client, viewer, method, url, body)
        assert (code, answer["error"]["code"]) == (403, "AUTHORIZATION_ERROR"), url
    member = await make_member(org_id=owner.org_id, role="member")
    assert (await _send(client, member, "PATCH", path, {"name": "by a member"}))[0] == 200
