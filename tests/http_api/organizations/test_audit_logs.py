"""The audit log end to end, on the whole app and a real database: what one request records (the changed
fields only, secrets masked, the caller, the route template, the request id and the address) and
``GET /v1/audit-logs``'s filters, paging, organization scope and role.

Rules: every change is made through the API as a client makes it; rows are read through the route
(the store's own tests read the table).
"""

from __future__ import annotations

from typing import Any

from tests.http_api.conftest import PASSWORD, Client, MakeMember, Member
from tests.http_api.post import post_created, post_track

CAMPAIGN = {"name": "Summer", "budget": 5000, "currency": "USD", "objective": "streams",
            "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-08-31T23:59:59Z"}


async def _logs(client: Client, who: Member, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/v1/audit-logs{query}", headers=who.headers)
    body: dict[str, Any] = await response.get_json()
    assert response.status_code == 200, body
    return body


async def test_a_campaign_patch_records_only_the_changed_fields(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    campaign = await post_created(client, owner.headers, "/v1/campaigns", CAMPAIGN)
    response = await client.patch(f"/v1/campaigns/{campaign['id']}", headers=owner.headers,
                                  json={"name": "Autumn", "budget": 5000})
    assert response.status_code == 200, await response.get_data()
    (entry,) = (await _logs(client, owner, "?action=campaign.updated"))["auditLogs"]
    assert (entry["before"], entry["after"]) == ({"name": "Summer"}, {"name": "Autumn"})
    assert entry["actorType"] == "user" and entry["actorUserId"] == str(owner.user_id)
    assert entry["actorLabel"] == owner.email and entry["objectId"] == campaign["id"]
    assert entry["source"] == "PATCH /v1/campaigns/{campaign_id}"
    assert entry["requestId"] == response.headers["X-Request-ID"] and entry["ip"]
    created = (await _logs(client, owner, f"?action=campaign.created&objectId={campaign['id']}"))["auditLogs"]
    assert created[0]["before"] is None and created[0]["after"]["name"] == "Summer"


async def test_a_password_change_is_masked(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    response = await client.patch("/v1/auth/profile", headers=owner.headers,
                                  json={"currentPassword": PASSWORD, "newPassword": "a-fine-new-password"})
    assert response.status_code == 200, await response.get_data()
    (entry,) = (await _logs(client, owner, "?objectType=user"))["auditLogs"]
    assert entry["before"] == {"password_hash": "***"} and entry["after"] == {"password_hash": "***"}


async def test_a_webhook_secret_never_reaches_the_log(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    created = await post_created(client, owner.headers, "/v1/webhooks", {"url": "https://hooks.example.com/in"})
    rotated = await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=owner.headers)
    secret = (await rotated.get_json())["secret"]
    entries = (await _logs(client, owner, "?objectType=webhook_endpoint"))["auditLogs"]
    assert [e["action"] for e in entries] == ["webhook_endpoint.updated", "webhook_endpoint.created"]
    assert entries[0]["after"]["secret_sealed"] == "***" and entries[1]["after"]["secret_sealed"] == "***"
    text = str(entries)
    assert secret not in text and created["secret"] not in text


async def test_the_listing_filters_pages_and_stays_in_the_organization(client: Client,
                                                                     make_member: MakeMember) -> None:
    owner, stranger = await make_member(), await make_member()
    admin = await make_member(org_id=owner.org_id, role="admin")
    tracks = [await post_track(client, owner.headers, title=f"Song {i}") for i in range(3)]
    await post_track(client, admin.headers, title="By the admin")
    await post_track(client, stranger.headers, title="Elsewhere")
    page = await _logs(client, admin, "?objectType=track&limit=2")
    assert page["auditLogs"][0]["actorUserId"] == str(admin.user_id)  # newest first
    assert page["auditLogs"][1]["objectId"] == tracks[2]
    assert page["pagination"] == {"total": 4, "limit": 2, "offset": 0, "hasNext": True}
    mine = await _logs(client, admin, f"?actorId={owner.user_id}&action=track.created")
    assert sorted(e["objectId"] for e in mine["auditLogs"]) == sorted(tracks)
    assert (await _logs(client, admin, "?objectId=" + tracks[0]))["pagination"]["total"] == 1
    newest = page["auditLogs"][0]["occurredAt"].replace("+", "%2B")
    assert (await _logs(client, owner, f"?from={newest}&objectType=track"))["pagination"]["total"] == 1
    assert (await _logs(client, owner, f"?to={newest}&objectType=track"))["pagination"]["total"] == 3
    stranger_view = await _logs(client, stranger, "?objectType=track")
    assert stranger_view["pagination"]["total"] == 1


async def test_a_member_may_not_read_it(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    response = await client.get("/v1/audit-logs", headers=member.headers)
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "AUTHORIZATION_ERROR"
