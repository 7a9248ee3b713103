"""Pushing audiences to Meta: our API against the Meta simulator, checked on the simulator's side (the
audience it holds, the hashed members, the lookalike spec), and Meta's refusals reaching the caller."""

from __future__ import annotations

import hashlib

import msgspec
import trio

from adapters.meta.simulator import FaultConfig
from tests.http_api.conftest import Client, MakeMember, Member, Simulators, meta_simulator
from tests.http_api.connect import connect
from tests.http_api.post import post_created


async def _audience(client: Client, owner: Member) -> str:
    body = {"name": "Newsletter fans", "description": "Signed up at shows"}
    return str((await post_created(client, owner.headers, "/v1/audiences", body))["id"])


def _act(sims: Simulators) -> str:
    return "act_" + next(iter(sims.meta.world.accounts))


async def test_a_push_creates_the_meta_audience_once_and_adds_hashed_customers(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        audience_id, act = await _audience(client, owner), _act(simulators)
        customers = [{"email": " Fan@Example.com "}, {"phone": "+1 (650) 555-1212", "country": "US"}]
        pushed = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers,
                                   json={"adAccountId": act, "customers": customers})
        assert pushed.status_code == 200, await pushed.get_data()
        result = await pushed.get_json()
        meta_id = result["audience"]["meta"]["audienceId"]
        assert result["audience"]["meta"]["adAccountId"] == act and result["customersReceived"] == 2
        on_meta = simulators.meta.audiences.audiences[meta_id]
        assert (on_meta.name, on_meta.subtype, on_meta.account_id) == ("Newsletter fans", "CUSTOM", act[4:])
        email_digest = hashlib.sha256(b"fan@example.com").hexdigest()
        assert any(email_digest in member for member in on_meta.members)
        assert not any("fan@example.com" in member.lower() for member in on_meta.members)
        # A second push goes to the same Meta audience, without repeating the ad account.
        again = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers,
                                  json={"customers": [{"email": "other@example.com"}]})
        assert again.status_code == 200 and (await again.get_json())["audience"]["meta"]["audienceId"] == meta_id
        assert len([a for a in simulators.meta.audiences.audiences.values() if a.subtype == "CUSTOM"]) == 1
        shown = await (await client.get(f"/v1/audiences/{audience_id}", headers=owner.headers)).get_json()
        assert shown["meta"]["audienceId"] == meta_id


async def test_a_lookalike_of_a_pushed_audience_is_built_on_meta(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        audience_id = await _audience(client, owner)
        local = await client.post(f"/v1/audiences/{audience_id}/lookalike", headers=owner.headers,
                                  json={"name": "Local only", "countries": ["US", "CA"], "ratio": 0.05})
        assert local.status_code == 201 and (await local.get_json())["meta"] is None
        await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers,
                          json={"adAccountId": _act(simulators)})
        two = await client.post(f"/v1/audiences/{audience_id}/lookalike", headers=owner.headers,
                                json={"name": "Two countries", "countries": ["US", "CA"], "ratio": 0.05})
        assert two.status_code == 400 and (await two.get_json())["error"]["details"][0]["field"] == "countries"
        made = await client.post(f"/v1/audiences/{audience_id}/lookalike", headers=owner.headers,
                                 json={"name": "Lookalike US", "countries": ["US"], "ratio": 0.03})
        assert made.status_code == 201, await made.get_data()
        lookalike = await made.get_json()
        on_meta = simulators.meta.audiences.audiences[lookalike["meta"]["audienceId"]]
        assert on_meta.subtype == "LOOKALIKE" and on_meta.lookalike_spec is not None
        assert on_meta.lookalike_spec["country"] == "US" and float(on_meta.lookalike_spec["ratio"]) == 0.03
        pushing_lookalike = await client.post(f"/v1/audiences/{lookalike['id']}/sync/meta", headers=owner.headers,
                                              json={})
        assert pushing_lookalike.status_code == 409


async def test_bad_customers_are_named_and_meta_is_not_called(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        audience_id = await _audience(client, owner)
        calls = len(simulators.meta.requests)
        bad = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers,
                                json={"adAccountId": _act(simulators),
                                      "customers": [{"email": "ok@example.com"}, {"email": "no-at-sign"}, {}]})
        assert bad.status_code == 400
        fields = [d["field"] for d in (await bad.get_json())["error"]["details"]]
        assert fields == ["customers[1].email", "customers[2]"]
        assert len(simulators.meta.requests) == calls
        first = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers, json={})
        [detail] = (await first.get_json())["error"]["details"]
        assert first.status_code == 400 and detail["field"] == "adAccountId"
        assert all(f"act_{account}" in detail["message"] for account in simulators.meta.world.accounts)
        assert (await (await client.get(f"/v1/audiences/{audience_id}", headers=owner.headers)).get_json())[
            "meta"] is None


async def test_a_bare_push_uses_the_one_ad_account(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    simulators.meta = meta_simulator(accounts=1)
    with trio.fail_after(20):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        audience_id = await _audience(client, owner)
        pushed = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers)
        assert pushed.status_code == 200, await pushed.get_json()
    meta = (await pushed.get_json())["audience"]["meta"]
    assert meta["adAccountId"] == _act(simulators)
    assert [a.account_id for a in simulators.meta.audiences.audiences.values()] == [_act(simulators)[4:]]


async def test_meta_failures_and_missing_connections_reach_the_caller(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        audience_id = await _audience(client, owner)
        body = {"adAccountId": _act(simulators)}
        unconnected = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers, json=body)
        assert unconnected.status_code == 409
        assert (await unconnected.get_json())["error"]["code"] == "INTEGRATION_ERROR"
        await connect(client, simulators, "meta", owner)
        unknown_account = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers,
                                            json={"adAccountId": "act_999"})
        assert unknown_account.status_code == 502
        error = (await unknown_account.get_json())["error"]
        assert error["code"] == "INTEGRATION_ERROR" and error["message"].startswith("Meta: ")
        # Meta starts failing every call (the simulator reads its faults per request).
        simulators.meta.config = msgspec.structs.replace(simulators.meta.config,
                                                         faults=FaultConfig(error_500_rate=1.0))
        failing = await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=owner.headers, json=body)
        assert failing.status_code == 502
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        assert (await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=viewer.headers,
                                  json=body)).status_code == 403
        stranger = await make_member()
        assert (await client.post(f"/v1/audiences/{audience_id}/sync/meta", headers=stranger.headers,
                                  json=body)).status_code == 404
