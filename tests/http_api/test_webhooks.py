"""`/v1/webhooks`: endpoints CRUD, the secret shown at create and rotate only, URL checks, event type
validation, the delivery routes (test, stats, attempts, resend, recover), roles and organization scoping.
Delivery itself is the dispatcher's (tests/actors/test_webhook_dispatcher.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio.testing
from quart.typing import TestClientProtocol as Client

from engine.store import webhook_deliveries as deliveries
from engine.store.database import Database
from engine.webhooks.schedule import Decision
from tests.http_api.conftest import EPOCH, MakeMember, Member

URL = "https://hooks.example.com/in"


async def _create(client: Client, member: Member, **body: object) -> dict:  # type: ignore[type-arg]
    response = await client.post("/v1/webhooks", json={"url": URL, **body}, headers=member.headers)
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()  # type: ignore[no-any-return]


async def test_create_shows_the_secret_once(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    created = await _create(client, owner, eventTypes=["budget.warning"], description="ops", maxInFlight=2)
    assert created["secret"].startswith("whsec_") and created["eventTypes"] == ["budget.warning"]
    assert created["enabled"] is True and created["maxInFlight"] == 2
    listed = await (await client.get("/v1/webhooks", headers=owner.headers)).get_json()
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    got = await (await client.get(f"/v1/webhooks/{created['id']}", headers=owner.headers)).get_json()
    assert "secret" not in got and "secret" not in listed["webhooks"][0]


async def test_unknown_event_types_and_unsafe_urls_are_400_naming_the_field(
        client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    response = await client.post("/v1/webhooks", json={"url": URL, "eventTypes": ["budget.warning", "nope"]},
                                 headers=owner.headers)
    assert response.status_code == 400
    assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["eventTypes[1]"]
    for url in ("ftp://example.com/x", "http://127.0.0.1:9000/", "http://[::1]/", "http://169.254.169.254/",
                "http://10.0.0.5/"):
        response = await client.post("/v1/webhooks", json={"url": url}, headers=owner.headers)
        assert response.status_code == 400, url
        assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["url"]


async def test_every_spelling_of_a_local_address_is_refused_at_save(client: Client, make_member: MakeMember) -> None:
    # What the dispatcher's guard would refuse when it connects is refused when the URL is saved.
    owner = await make_member()
    created = await _create(client, owner)
    for url in ("http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://0/",
                "http://10.0.0.5./", "http://localhost:9000/", "http://hooks.localhost./"):
        for response in (await client.post("/v1/webhooks", json={"url": url}, headers=owner.headers),
                         await client.patch(f"/v1/webhooks/{created['id']}", json={"url": url},
                                            headers=owner.headers)):
            assert response.status_code == 400, url
            assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["url"]


async def test_patch_and_delete(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    created = await _create(client, owner)
    path = f"/v1/webhooks/{created['id']}"
    response = await client.patch(path, json={"eventTypes": ["goal.reached"], "enabled": False},
                                  headers=owner.headers)
    patched = await response.get_json()
    assert patched["eventTypes"] == ["goal.reached"] and patched["enabled"] is False
    assert (await client.patch(path, json={"url": "http://10.1.1.1/"}, headers=owner.headers)).status_code == 400
    patched = await (await client.patch(path, json={"enabled": True}, headers=owner.headers)).get_json()
    assert patched["enabled"] is True and patched["disabledReason"] is None
    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    assert (await client.get(path, headers=owner.headers)).status_code == 404


async def test_rotate_returns_a_new_secret_and_the_overlap(client: Client, make_member: MakeMember,
                                                          mock_clock: trio.testing.MockClock) -> None:
    owner = await make_member()
    created = await _create(client, owner)
    response = await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=owner.headers)
    rotated = await response.get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    expires = datetime.fromisoformat(rotated["previousSecretExpiresAt"])
    assert expires == datetime.fromtimestamp(EPOCH + trio.current_time(), UTC) + timedelta(hours=24)


async def test_test_event_stats_attempts_resend_and_recover(
        client: Client, make_member: MakeMember, db: Database) -> None:
    owner = await make_member()
    created = await _create(client, owner, eventTypes=["goal.reached"])
    base = f"/v1/webhooks/{created['id']}"
    queued = await client.post(f"{base}/test", headers=owner.headers)
    assert queued.status_code == 202
    event_id = (await queued.get_json())["eventId"]
    # The dispatcher's part, played by hand: one failed attempt, then the schedule gives up.
    now = datetime.now(UTC) + timedelta(days=400)
    [claim] = await deliveries.claim_due(db, "w", now=now, lease=timedelta(minutes=1), limit=10)
    result = deliveries.AttemptResult(attempted_at=now, duration_ms=12, status_code=500, response_body="x" * 5000)
    await deliveries.record_attempt(db, claim, "w", result, Decision("fail"), now=now)
    stats = await (await client.get(f"{base}/stats", headers=owner.headers)).get_json()
    assert (stats["failed"], stats["attempts"], stats["averageDurationMs"]) == (1, 1, 12.0)
    log = await (await client.get(f"{base}/events/{event_id}/attempts", headers=owner.headers)).get_json()
    assert [(a["statusCode"], len(a["responseBody"])) for a in log["attempts"]] == [(500, 4096)]
    recovered = await client.post(f"{base}/recover", json={"since": "2020-01-01T00:00:00Z"}, headers=owner.headers)
    assert (await recovered.get_json()) == {"recovered": 1}
    assert await deliveries.delivery_statuses(db, claim.endpoint_id) == [(event_id, "pending", 0)]
    resent = await client.post(f"{base}/events/{event_id}/resend", headers=owner.headers)
    assert resent.status_code == 202 and (await resent.get_json()) == {"eventId": event_id}
    missing = await client.post(f"{base}/events/evt_00/resend", headers=owner.headers)
    assert missing.status_code == 404


async def test_viewers_read_and_only_admins_change(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    member = await make_member(org_id=owner.org_id, role="member")
    created = await _create(client, owner)
    base = f"/v1/webhooks/{created['id']}"
    assert (await client.get("/v1/webhooks", headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{base}/stats", headers=viewer.headers)).status_code == 200
    for who in (viewer, member):
        assert (await client.post("/v1/webhooks", json={"url": URL}, headers=who.headers)).status_code == 403
        assert (await client.patch(base, json={"enabled": False}, headers=who.headers)).status_code == 403
        assert (await client.post(f"{base}/rotate-secret", headers=who.headers)).status_code == 403
        assert (await client.post(f"{base}/test", headers=who.headers)).status_code == 403
        assert (await client.delete(base, headers=who.headers)).status_code == 403
    admin = await make_member(org_id=owner.org_id, role="admin")
    assert (await client.post(f"{base}/test", headers=admin.headers)).status_code == 202


async def test_another_organizations_webhook_is_404(client: Client, make_member: MakeMember) -> None:
    owner, stranger = await make_member(), await make_member()
    created = await _create(client, owner)
    queued = await (await client.post(f"/v1/webhooks/{created['id']}/test", headers=owner.headers)).get_json()
    base = f"/v1/webhooks/{created['id']}"
    h = stranger.headers
    assert (await client.get(base, headers=h)).status_code == 404
    assert (await client.patch(base, json={"enabled": False}, headers=h)).status_code == 404
    assert (await client.delete(base, headers=h)).status_code == 404
    assert (await client.post(f"{base}/test", headers=h)).status_code == 404
    assert (await client.get(f"{base}/stats", headers=h)).status_code == 404
    assert (await client.post(f"{base}/rotate-secret", headers=h)).status_code == 404
    assert (await client.post(f"{base}/recover", json={"since": "2020-01-01T00:00:00Z"}, headers=h)).status_code == 404
    assert (await client.get(f"{base}/events/{queued['eventId']}/attempts", headers=h)).status_code == 404
    assert (await client.post(f"{base}/events/{queued['eventId']}/resend", headers=h)).status_code == 404
    assert (await (await client.get("/v1/webhooks", headers=h)).get_json()) == {"webhooks": []}
