"""`/v1/webhooks`: endpoints CRUD, the secret shown at create and rotate only, URL checks, event type
validation, the delivery routes (test, stats, attempts, resend, recover), roles and organization scoping.
Delivery itself is the dispatcher's (tests/actors/test_webhook_dispatcher.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import trio.testing
from quart.typing import TestClientProtocol as Client

from config import Keys
from engine.secrets_box import open_
from engine.store import webhook_deliveries as deliveries
from engine.store.database import Database
from engine.webhooks.schedule import Decision
from engine.webhooks.signing import seed_signature
from tests.http_api.conftest import EPOCH, MakeMember, Member
from tests.http_api.post import post_created

URL = "https://hooks.example.com/in"


async def _create(client: Client, member: Member, **body: object) -> dict[str, Any]:
    return await post_created(client, member.headers, "/v1/webhooks", {"url": URL, **body})


async def test_create_shows_the_secret_once(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    created = await _create(client, owner, events=["budget.warning"], description="ops", maxInFlight=2)
    assert created["secret"].startswith("whsec_") and created["events"] == ["budget.warning"]
    assert created["enabled"] is True and created["maxInFlight"] == 2
    listed = await (await client.get("/v1/webhooks", headers=owner.headers)).get_json()
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    got = await (await client.get(f"/v1/webhooks/{created['id']}", headers=owner.headers)).get_json()
    assert "secret" not in got and "secret" not in listed["webhooks"][0]


async def test_unknown_event_types_and_unsafe_urls_are_400_naming_the_field(
        client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    response = await client.post("/v1/webhooks", json={"url": URL, "events": ["budget.warning", "nope"]},
                                 headers=owner.headers)
    assert response.status_code == 400
    assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["events[1]"]
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
    response = await client.patch(path, json={"events": ["goal.reached"], "enabled": False},
                                  headers=owner.headers)
    patched = await response.get_json()
    assert patched["events"] == ["goal.reached"] and patched["enabled"] is False
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
    created = await _create(client, owner, events=["goal.reached"])
    base = f"/v1/webhooks/{created['id']}"
    queued = await client.post(f"{base}/test", headers=owner.headers)
    assert queued.status_code == 202
    event_id = (await queued.get_json())["eventId"]
    # The dispatcher's part, played by hand: one failed attempt, then the schedule gives up.
    now = datetime.now(UTC) + timedelta(days=400)
    [claim] = await deliveries.claim_due(db, "w", now=now, lease=timedelta(minutes=1), limit=10)
    result = deliveries.AttemptResult(attempted_at=now, duration_ms=12, status_code=500, response_body="x" * 5000)
    await deliveries.record_attempts(db, "w", [deliveries.Attempted(claim, result, Decision("fail"))], now=now)
    stats = await (await client.get(f"{base}/stats", headers=owner.headers)).get_json()
    assert (stats["failed"], stats["attempts"], stats["averageDurationMs"]) == (1, 1, 12.0)
    log = await (await client.get(f"{base}/events/{event_id}/attempts", headers=owner.headers)).get_json()
    assert [(a["statusCode"], len(a["responseBody"])) for a in log["attempts"]] == [(500, 4096)]
    assert log["pagination"] == {"total": 1, "limit": 20, "offset": 0, "hasNext": False}
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
    assert (await (await client.get("/v1/webhooks", headers=h)).get_json())["webhooks"] == []


async def test_a_chosen_secret_is_sealed_and_signs_with_its_own_bytes(
        client: Client, make_member: MakeMember, db: Database, keys: Keys) -> None:
    owner = await make_member()
    created = await _create(client, owner, events=["campaign.created"], secret="webhook_secret")
    assert created["secret"] == "whsec_" + base64.b64encode(b"webhook_secret").decode()
    sealed = await db.fetchval("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1", uuid.UUID(created["id"]))
    assert "webhook_secret" not in sealed and "d2ViaG9va19zZWNyZXQ" not in sealed
    secret = open_(keys.token_encryption_key, sealed, f"{owner.org_id}:webhook_endpoint:{created['id']}:secret")
    expected = hmac.new(b"webhook_secret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert seed_signature(secret, 1700000000, b"{}") == f"sha256={expected}"


async def test_a_weak_secret_or_the_old_field_name_is_400_naming_it(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for weak in ("secret", "aaaaaaaaaaaaaaaa", "whsec_c2hvcnQ=", "x" * 65):
        response = await client.post("/v1/webhooks", json={"url": URL, "secret": weak}, headers=owner.headers)
        assert response.status_code == 400, weak
        assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["secret"]
    response = await client.post("/v1/webhooks", json={"url": URL, "eventTypes": []}, headers=owner.headers)
    assert [d["field"] for d in (await response.get_json())["error"]["details"]] == ["eventTypes"]


async def test_the_list_pages_as_the_reference_says(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    ids = [(await _create(client, owner))["id"] for _ in range(3)]
    first = await (await client.get("/v1/webhooks?limit=2", headers=owner.headers)).get_json()
    assert [w["id"] for w in first["webhooks"]] == ids[:2]
    assert first["pagination"] == {"total": 3, "limit": 2, "offset": 0, "hasNext": True}
    rest = await (await client.get("/v1/webhooks?limit=2&offset=2", headers=owner.headers)).get_json()
    assert [w["id"] for w in rest["webhooks"]] == ids[2:] and rest["pagination"]["hasNext"] is False
    assert (await client.get("/v1/webhooks?limit=101", headers=owner.headers)).status_code == 400
