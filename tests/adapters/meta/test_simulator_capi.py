"""The Conversions API on the Meta simulator: all-or-nothing batches, time windows, hashing, dedup.

Rules: events are posted over HTTP as form fields with a JSON ``data`` array, as Meta's docs show;
``sim.conversions`` is read only to see what was received.
"""

from __future__ import annotations

import hashlib
import json

import httpx

from adapters.meta.simulator import ManualClock, MetaSimulator, SimulatorConfig
from adapters.meta.simulator.clock import parse_start

TOKEN = "SIMULATOR_TOKEN"
EMAIL = hashlib.sha256(b"john_smith@gmail.com").hexdigest()


def make() -> tuple[MetaSimulator, str, int]:
    config = SimulatorConfig()
    sim = MetaSimulator(config, ManualClock(parse_start(config.start)))
    return sim, next(iter(sim.world.pixels)), int(parse_start(config.start))


def event(now: int, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_name": "Purchase",
        "event_time": now - 60,
        "event_id": "order-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/merch",
        "user_data": {"em": [EMAIL], "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.9"},
        "custom_data": {"value": 25.0, "currency": "USD"},
    }
    return base | changes


async def post(sim: MetaSimulator, pixel: str, events: list[dict[str, object]], **extra: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com") as http:
        return await http.post(
            f"/v25.0/{pixel}/events", data={"access_token": TOKEN, "data": json.dumps(events), **extra}
        )


async def test_valid_events_are_received_and_test_events_are_visible() -> None:
    sim, pixel, now = make()
    response = await post(sim, pixel, [event(now), event(now, event_id="order-2")], test_event_code="TEST123")
    assert response.status_code == 200
    body = response.json()
    assert body["events_received"] == 2 and body["messages"] == [] and body["fbtrace_id"]
    assert [e.event_id for e in sim.conversions.test_events] == ["order-1", "order-2"]


async def test_one_invalid_event_rejects_the_whole_batch() -> None:
    sim, pixel, now = make()
    unhashed = event(now, event_id="order-3", user_data={"em": ["john@example.com"]})
    response = await post(sim, pixel, [event(now), unhashed])
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["error_subcode"]) == (100, 2804003)
    assert sim.conversions.events == []


async def test_event_time_windows_are_7_days_or_62_for_physical_stores() -> None:
    sim, pixel, now = make()
    eight_days = now - 8 * 86400
    web = await post(sim, pixel, [event(now, event_time=eight_days)])
    store = await post(sim, pixel, [event(now, event_time=eight_days, action_source="physical_store")])
    assert web.status_code == 400 and "7 days" in web.json()["error"]["message"]
    assert store.status_code == 200


async def test_a_repeated_event_id_counts_once_within_48_hours() -> None:
    sim, pixel, now = make()
    await post(sim, pixel, [event(now)])
    await post(sim, pixel, [event(now)])
    assert [e.counted for e in sim.conversions.events] == [True, False]


async def test_more_than_1000_events_are_refused() -> None:
    sim, pixel, now = make()
    response = await post(sim, pixel, [event(now, event_id=str(i)) for i in range(1001)])
    assert response.status_code == 400 and response.json()["error"]["code"] == 100
