"""`POST /v1/meta/conversions` against the Meta simulator: the event arrives at the pixel hashed and is
counted once per eventId; what Meta or we refuse is named."""

from __future__ import annotations

import hashlib

import trio

from tests.http_api.conftest import EPOCH, Client, MakeMember, Member, Simulators
from tests.http_api.connect import connect


def _event(sims: Simulators, **changes: object) -> dict[str, object]:
    pixel = next(iter(sims.meta.world.pixels))
    event: dict[str, object] = {
        "pixelId": pixel, "eventName": "Purchase", "eventTime": int(EPOCH) - 60, "eventId": "order-1001",
        "eventSourceUrl": "https://shop.label.example/checkout",
        "userData": {"email": " Fan@Example.com", "phone": "+1 (650) 555-1212", "clientIpAddress": "203.0.113.9"},
        "customData": {"currency": "USD", "value": 9.99},
    }
    return event | changes


async def _connected(client: Client, sims: Simulators, make_member: MakeMember) -> Member:
    owner = await make_member()
    await connect(client, sims, "meta", owner)
    return owner


async def test_an_event_reaches_the_pixel_hashed_and_is_counted_once(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        sent = await client.post("/v1/meta/conversions", headers=owner.headers, json=_event(simulators))
        assert sent.status_code == 200, await sent.get_data()
        body = await sent.get_json()
        assert body["eventsReceived"] == 1 and body["fbtraceId"]
        received = simulators.meta.conversions.events
        assert [(e.event_name, e.event_id, e.counted) for e in received] == [("Purchase", "order-1001", True)]
        wire = [r for r in simulators.meta.requests if r.path.endswith("/events")][-1].params["data"]
        assert hashlib.sha256(b"fan@example.com").hexdigest() in wire
        assert hashlib.sha256(b"16505551212").hexdigest() in wire
        assert "Fan@Example.com" not in wire and "203.0.113.9" in wire  # the IP goes unhashed, as Meta needs
        # The same eventId again: Meta deduplicates it.
        await client.post("/v1/meta/conversions", headers=owner.headers, json=_event(simulators))
        assert [e.counted for e in simulators.meta.conversions.events] == [True, False]


async def test_what_meta_would_refuse_is_named_before_it_is_sent(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        cases = {
            "eventTime": _event(simulators, eventTime=int(EPOCH) - 8 * 86400),
            "eventSourceUrl": _event(simulators, eventSourceUrl=None, actionSource="website"),
            "userData": _event(simulators, userData={"email": "no-at-sign"}),
        }
        for field, event in cases.items():
            refused = await client.post("/v1/meta/conversions", headers=owner.headers, json=event)
            assert refused.status_code == 400, (field, await refused.get_data())
            assert (await refused.get_json())["error"]["details"][0]["field"] == field
        millis = await client.post("/v1/meta/conversions", headers=owner.headers,
                                   json=_event(simulators, eventTime=int(EPOCH) * 1000))
        assert millis.status_code == 400
        assert simulators.meta.conversions.events == []
        unknown_pixel = await client.post("/v1/meta/conversions", headers=owner.headers,
                                          json=_event(simulators, pixelId="999"))
        assert unknown_pixel.status_code == 502
        assert (await unknown_pixel.get_json())["error"]["code"] == "INTEGRATION_ERROR"


async def test_roles_and_the_connection(client: Client, simulators: Simulators, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        unconnected = await client.post("/v1/meta/conversions", headers=owner.headers, json=_event(simulators))
        assert unconnected.status_code == 409
        await connect(client, simulators, "meta", owner)
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        assert (await client.post("/v1/meta/conversions", headers=viewer.headers,
                                  json=_event(simulators))).status_code == 403


async def test_the_chosen_default_pixel_takes_events_that_name_none(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await _connected(client, simulators, make_member)
        listed = await (await client.get("/v1/meta/pixels", headers=owner.headers)).get_json()
        assert {p["id"] for p in listed["pixels"]} == set(simulators.meta.world.pixels)
        assert listed["defaultPixelId"] is None and listed["pagination"]["total"] == len(simulators.meta.world.pixels)
        event = _event(simulators, pixelId=None, eventSourceUrl=None)  # as the API reference sends it
        unchosen = await client.post("/v1/meta/conversions", headers=owner.headers, json=event)
        assert unchosen.status_code == 400 and (await unchosen.get_json())["error"]["details"][0]["field"] == "pixelId"
        unknown = await client.put("/v1/meta/pixels/default", headers=owner.headers, json={"pixelId": "999"})
        assert unknown.status_code == 400
        pixel = listed["pixels"][-1]["id"]
        chosen = await client.put("/v1/meta/pixels/default", headers=owner.headers, json={"pixelId": pixel})
        assert (await chosen.get_json()) == {"defaultPixelId": pixel}
        listed = await (await client.get("/v1/meta/pixels", headers=owner.headers)).get_json()
        assert [p["id"] for p in listed["pixels"] if p["isDefault"]] == [pixel]
        sent = await client.post("/v1/meta/conversions", headers=owner.headers, json=event)
        assert sent.status_code == 200 and (await sent.get_json())["pixelId"] == pixel
    assert [(e.pixel_id, e.event_name) for e in simulators.meta.conversions.events] == [(pixel, "Purchase")]


async def test_a_batch_of_meta_s_limit_goes_in_one_request(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await _connected(client, simulators, make_member)
        pixel = next(iter(simulators.meta.world.pixels))
        events = [_event(simulators, eventId=f"order-{n}") for n in range(1001)]
        for event in events:
            del event["pixelId"]
        too_many = await client.post("/v1/meta/conversions/batch", headers=owner.headers,
                                     json={"pixelId": pixel, "events": events})
        assert too_many.status_code == 400 and (await too_many.get_json())["error"]["details"][0]["field"] == "events"
        sent = await client.post("/v1/meta/conversions/batch", headers=owner.headers,
                                 json={"pixelId": pixel, "events": events[:1000]})
        assert sent.status_code == 200 and (await sent.get_json())["eventsReceived"] == 1000
    assert len([r for r in simulators.meta.requests if r.path.endswith("/events")]) == 1
    assert len(simulators.meta.conversions.events) == 1000
