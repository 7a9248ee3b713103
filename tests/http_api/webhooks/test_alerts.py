"""`/v1/alerts` and `/v1/notifications`: listing with filters and paging, newest first, the unread count,
read marks (per organization), organization scoping and roles.

Rules: alerts are seeded through the store functions the aggregator uses (nothing in the API fires them);
every test has a ``fail_after`` deadline on the mock clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import trio
from quart.typing import TestClientProtocol as Client

from engine.store import Database
from engine.store.alerts import NewAlert, insert_alerts, insert_notifications
from tests.helpers.factories import create_campaign
from tests.http_api.conftest import MakeMember

T0 = datetime(2026, 6, 1, tzinfo=UTC)


async def _seed(db: Database, org: uuid.UUID, n: int = 3, kind: str = "budget.warning") -> list[uuid.UUID]:
    """``n`` alerts of one new campaign, a minute apart, each with its notification; returns alert ids."""
    campaign = await create_campaign(db, org, start=T0)
    ids = []
    for i in range(n):
        alert = NewAlert(organization_id=org, campaign_id=campaign, type=kind,
                         dedupe_key=f"{kind}:{campaign}:{i}", title=f"alert {i}", data={"i": i})
        [inserted] = await insert_alerts(db, [alert], fired_at=T0 + timedelta(minutes=i))
        await insert_notifications(db, [(inserted, f"alert {i}")], created_at=T0 + timedelta(minutes=i))
        ids.append(inserted.id)
    return ids


async def test_alerts_newest_first_paged_and_filtered(client: Client, make_member: MakeMember, db: Database) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        first = await _seed(db, owner.org_id, 3)
        await _seed(db, owner.org_id, 1, kind="goal.reached")
        response = await client.get("/v1/alerts?limit=2&type=budget.warning", headers=owner.headers)
        body = await response.get_json()
        assert response.status_code == 200
        assert [a["id"] for a in body["alerts"]] == [str(first[2]), str(first[1])]
        assert body["pagination"] == {"total": 3, "limit": 2, "offset": 0, "hasNext": True}
        assert body["alerts"][0]["data"] == {"i": 2} and body["alerts"][0]["type"] == "budget.warning"
        campaign = body["alerts"][0]["campaignId"]
        everything = await (await client.get("/v1/alerts", headers=owner.headers)).get_json()
        assert everything["pagination"]["total"] == 4
        other = await (await client.get(f"/v1/alerts?campaignId={campaign}", headers=owner.headers)).get_json()
        assert other["pagination"]["total"] == 3
        bad = await client.get("/v1/alerts?type=nope", headers=owner.headers)
        assert bad.status_code == 400


async def test_notifications_unread_count_and_read_marks(client: Client, make_member: MakeMember,
                                                         db: Database) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        await _seed(db, owner.org_id, 3)
        listed = await (await client.get("/v1/notifications", headers=viewer.headers)).get_json()
        assert listed["unreadCount"] == 3 and listed["notifications"][0]["title"] == "alert 2"
        target = listed["notifications"][1]["id"]
        response = await client.post(f"/v1/notifications/{target}/read", headers=viewer.headers)
        assert response.status_code == 200 and (await response.get_json())["readAt"] is not None
        unread = await (await client.get("/v1/notifications?unread=true", headers=owner.headers)).get_json()
        assert unread["unreadCount"] == 2 and target not in [n["id"] for n in unread["notifications"]]
        marked = await client.post("/v1/notifications/read-all", headers=viewer.headers)
        assert (await marked.get_json()) == {"marked": 2}
        after = await (await client.get("/v1/notifications", headers=owner.headers)).get_json()
        assert after["unreadCount"] == 0 and after["pagination"]["total"] == 3


async def test_another_organization_sees_and_marks_nothing(client: Client, make_member: MakeMember,
                                                           db: Database) -> None:
    with trio.fail_after(10):
        owner, stranger = await make_member(), await make_member()
        await _seed(db, owner.org_id, 2)
        notification = await db.fetchval("SELECT id FROM notifications LIMIT 1")
        assert (await (await client.get("/v1/alerts", headers=stranger.headers)).get_json())["alerts"] == []
        listed = await (await client.get("/v1/notifications", headers=stranger.headers)).get_json()
        assert listed["notifications"] == [] and listed["unreadCount"] == 0
        response = await client.post(f"/v1/notifications/{notification}/read", headers=stranger.headers)
        assert response.status_code == 404
        assert (await (await client.post("/v1/notifications/read-all", headers=stranger.headers)).get_json()) == {
            "marked": 0}
        assert await db.fetchval("SELECT count(*) FROM notifications WHERE read_at IS NULL") == 2


async def test_routes_need_a_member(client: Client) -> None:
    with trio.fail_after(10):
        for method, path in [("GET", "/v1/alerts"), ("GET", "/v1/notifications"),
                             ("POST", f"/v1/notifications/{uuid.uuid4()}/read"),
                             ("POST", "/v1/notifications/read-all")]:
            response = await (client.get(path) if method == "GET" else client.post(path))
            assert response.status_code == 401, path
