"""Organizations are sealed from each other, for every route: the owner of one
organization, calling any route with another organization's ids, gets 404 and
changes nothing; list routes never show another organization's rows.

The matrix is driven by the OpenAPI document, so a new route with an id in its
path fails this test until it is added to the matrix: that is the point.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

from engine.store import alerts, imports, report_exports
from engine.store.database import Database
from http_api.context import ApiContext
from tests.http_api.conftest import Client, MakeMember, Member, Simulators
from tests.http_api.connect import connect

CAMPAIGN = {"name": "Summer", "budget": 5000, "currency": "USD", "objective": "streams",
            "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-08-31T23:59:59Z"}

# A body that would succeed if the id were the caller's, so a 404 can only mean "not yours".
BODIES: dict[tuple[str, str], object] = {
    ("PATCH", "/v1/tracks/{track_id}"): {"title": "Hijacked"},
    ("PATCH", "/v1/campaigns/{campaign_id}"): {"name": "Hijacked", "budgetGuardrail": {"enabled": False}},
    ("PATCH", "/v1/audiences/{audience_id}"): {"name": "Hijacked"},
    ("POST", "/v1/audiences/{audience_id}/lookalike"): {"name": "Stolen", "countries": ["US"], "ratio": 0.05},
    ("POST", "/v1/audiences/{audience_id}/sync/meta"): {"adAccountId": "act_1"},
    ("PATCH", "/v1/organization/members/{user_id}"): {"role": "viewer"},
    ("PATCH", "/v1/meta/campaigns/{meta_campaign_id}"): {"name": "Hijacked"},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"description": "Hijacked"},
    ("POST", "/v1/webhooks/{webhook_id}/recover"): {"since": "2020-01-01T00:00:00Z"},
    ("POST", "/v1/analytics/campaigns/{campaign_id}/export"): {"format": "csv"},
    ("PATCH", "/v1/rules/{rule_id}"): {"name": "Hijacked", "cooldownHours": 0},
    ("POST", "/v1/rules/{rule_id}/preview"): {},
}
# Query strings a route needs to get past validation.
QUERIES = {("GET", "/v1/meta/campaigns/{meta_campaign_id}/insights"): "?since=2027-01-01&until=2027-01-07",
           ("GET", "/v1/streaming/realtime/{track_id}"): "?interval=1h&buckets=2"}
# Routes with an id that is not an organization's resource id.
NOT_ORG_SCOPED = {("GET", "/v1/auth/verify-email/{token}"), ("GET", "/v1/listen/{token}"),
                  # A signed link is the credential (test_reports.py: another export's link is refused).
                  ("GET", "/v1/reports/{report_id}/download"),
                  # So is a fan's revoke link (test_consents.py: a link to another consent is refused).
                  ("GET", "/v1/listen/consents/{consent_id}/revoke"),
                  ("POST", "/v1/listen/consents/{consent_id}/revoke")}
# Routes whose id is a provider's object: they reach it only through the caller's own connected account,
# so a caller without one gets 409 whatever the id (and the provider checks access for one who has one).
PROVIDER_OBJECTS = {
    ("PATCH", "/v1/meta/campaigns/{meta_campaign_id}"), ("GET", "/v1/meta/campaigns/{meta_campaign_id}/insights"),
    ("GET", "/v1/spotify/tracks/{spotify_id}/analytics"), ("GET", "/v1/spotify/artists/{artist_id}"),
    ("POST", "/v1/integrations/{provider}/sync"),
}
# What the owner of the first organization sees; none of it may change.
READS = ["/v1/tracks", "/v1/campaigns", "/v1/audiences", "/v1/organization", "/v1/organization/members",
         "/v1/organization/invitations", "/v1/sessions", "/v1/auth/profile", "/v1/integrations", "/v1/webhooks",
         "/v1/alerts", "/v1/notifications", "/v1/imports", "/v1/rules"]


async def _notification(db: Database, org_id: uuid.UUID) -> str:
    """A notification of ``org_id``, as the aggregator makes them (no route creates one)."""
    new = alerts.NewAlert(organization_id=org_id, campaign_id=None, type="budget.warning", dedupe_key="seeded",
                          title="Seeded", data={})
    now = datetime.now(UTC)
    (alert,) = await alerts.insert_alerts(db, [new], fired_at=now)
    await alerts.insert_notifications(db, [(alert, "Seeded")], created_at=now)
    return str(await db.fetchval("SELECT id FROM notifications WHERE alert_id = $1", alert.id))


async def _report(db: Database, org_id: uuid.UUID) -> str:
    """A daily report of ``org_id``, recorded as the engine records one (test_reports.py exports real ones)."""
    new = report_exports.NewExport(kind="daily", campaign_id=None, format="csv", granularity="day",
                                   period_start=date(2027, 1, 1), period_end=date(2027, 1, 1),
                                   filename="daily.csv", expires_at=datetime(2100, 1, 1, tzinfo=UTC))
    made = await report_exports.create_export(db, org_id, new, None)
    assert made is not None
    return str(made.id)


async def _import(db: Database, org_id: uuid.UUID) -> str:
    """An import of ``org_id``, recorded as an upload records it (test_imports.py uploads real files)."""
    new = imports.NewImport(sha256="0" * 64, filename="songs.csv", size_bytes=10, kind="s4a_songs",
                            encoding="utf-8", total_rows=0)
    record, _ = await imports.start_import(db, org_id, new, [], None)
    return str(record.id)


def _stream_event(event_id: str, track: str, now: float) -> dict[str, str]:
    """A live stream event a minute old on the API's clock."""
    at = datetime.fromtimestamp(now - 60, UTC).isoformat()
    return {"id": event_id, "trackId": track, "platform": "spotify", "country": "US", "timestamp": at}


async def _seed(client: Client, sims: Simulators, db: Database, make_member: MakeMember,
                owner: Member, now: float) -> dict[str, str]:
    async def post(path: str, body: object) -> str:
        response = await client.post(path, headers=owner.headers, json=body)
        assert response.status_code == 201, await response.get_data()
        return str((await response.get_json())["id"])

    track = await post("/v1/tracks", {"title": "Summer Vibes", "artist": "Ana"})
    streamed = await client.post("/v1/streaming/events", headers=owner.headers,
                                 json={"events": [_stream_event("seeded", track, now)]})
    assert await streamed.get_json() == {"accepted": 1, "duplicates": 0}
    audience = await post("/v1/audiences", {"name": "Fans", "criteria": {"ageMin": 18}})
    invitation = await post("/v1/organization/invitations", {"email": "new@label.example", "role": "member"})
    member = await make_member(org_id=owner.org_id, role="member")
    await connect(client, sims, "spotify", owner)
    track_at_spotify = next(iter(sims.spotify.world.catalog.tracks))
    webhook = await post("/v1/webhooks", {"url": "https://hooks.example.com/in"})
    tested = await client.post(f"/v1/webhooks/{webhook}/test", headers=owner.headers)
    assert tested.status_code == 202, await tested.get_data()
    return {
        "webhook_id": webhook, "event_id": (await tested.get_json())["eventId"],
        "notification_id": await _notification(db, owner.org_id), "import_id": await _import(db, owner.org_id),
        "report_id": await _report(db, owner.org_id),
        # A fan's id: test_listeners.py opts a real one in; here the campaign alone must already answer 404.
        "listener_id": str(uuid.uuid4()),
        "provider": "spotify", "meta_campaign_id": next(iter(sims.meta.world.campaigns)),
        "spotify_id": track_at_spotify, "artist_id": sims.spotify.world.catalog.tracks[track_at_spotify].artist_id,
        "track_id": track, "campaign_id": await post("/v1/campaigns", {**CAMPAIGN, "trackId": track}),
        "audience_id": audience, "invitation_id": invitation, "user_id": str(member.user_id),
        "session_id": str(owner.session_id),
        "rule_id": await post("/v1/rules", {"name": "Guard", "action": {"type": "pause_campaign"},
                                            "condition": {"field": "spend", "operator": "gte", "value": 100}}),
    }


async def _view(client: Client, owner: Member) -> list[object]:
    return [await (await client.get(path, headers=owner.headers)).get_json() for path in READS]


async def test_every_route_refuses_another_organizations_ids(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember, ctx: ApiContext,
) -> None:
    victim, intruder = await make_member(), await make_member()
    ids = await _seed(client, simulators, db, make_member, victim, ctx.now())
    before = await _view(client, victim)
    doc = await (await client.get("/openapi.json")).get_json()
    tried = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            key = (method.upper(), path)
            if "{" not in path or key in NOT_ORG_SCOPED:
                continue
            assert operation["security"], f"{key} takes an id but needs no token"
            url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path) + QUERIES.get(key, "")
            response = await client.open(url, method=key[0], headers=intruder.headers, json=BODIES.get(key))
            expected = (409, "INTEGRATION_ERROR") if key in PROVIDER_OBJECTS else (404, "NOT_FOUND")
            assert response.status_code == expected[0], (key, response.status_code, await response.get_data())
            assert (await response.get_json())["error"]["code"] == expected[1]
            tried.append(key)
    assert len(tried) >= 18  # every id-taking route at the time of writing
    assert await _view(client, victim) == before


async def test_lists_and_references_stay_inside_the_organization(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember, ctx: ApiContext,
) -> None:
    victim, intruder = await make_member(), await make_member()
    ids = await _seed(client, simulators, db, make_member, victim, ctx.now())
    for path, key in (("/v1/tracks", "tracks"), ("/v1/campaigns", "campaigns"), ("/v1/audiences", "audiences"),
                      ("/v1/organization/invitations", "invitations"), ("/v1/imports", "imports"),
                      ("/v1/webhooks", "webhooks"), ("/v1/notifications", "notifications")):
        listed = await (await client.get(path, headers=intruder.headers)).get_json()
        assert listed[key] == [] and listed["pagination"]["total"] == 0, path
    members = await (await client.get("/v1/organization/members", headers=intruder.headers)).get_json()
    assert [m["id"] for m in members["members"]] == [str(intruder.user_id)] and members["pagination"]["total"] == 1
    # Pointing one's own new campaign at another organization's track is "no such track".
    borrowed_track = {**CAMPAIGN, "trackId": ids["track_id"]}
    borrowed = await client.post("/v1/campaigns", headers=intruder.headers, json=borrowed_track)
    assert borrowed.status_code == 404
    assert (await borrowed.get_json())["error"]["details"][0]["field"] == "trackId"
    # Stream events for another organization's track: that event is "no such track", and nothing is stored.
    events = [_stream_event("stolen", ids["track_id"], ctx.now())]
    sent = await client.post("/v1/streaming/events", headers=intruder.headers, json={"events": events})
    body = await sent.get_json()
    assert sent.status_code == 400 and (body["accepted"], body["duplicates"]) == (0, 0)
    assert body["error"]["details"] == [{"field": "events[0].trackId", "message": "no such track in this organization"}]
    assert await db.fetchval("SELECT count(*) FROM stream_events") == 1  # the victim's own, from _seed
