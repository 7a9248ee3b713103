"""Every state-changing route leaves audit rows: for each POST, PUT, PATCH and DELETE of the OpenAPI document
we make one successful call and find at least one row carrying that response's ``X-Request-ID``, the caller
as its actor (anonymous on a public route) and the route's template as its source, and no row of that
request naming anything else.

The list of routes comes from the OpenAPI document, so a new state-changing route fails this test until it
is driven here or listed in ``EXEMPT`` with the reason it changes no audited state: that is the point.
Rules: one test, in the order a label would work (the whole app, serving its job runner, real simulators).
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import trio
from quart.datastructures import FileStorage

from engine.store import mail
from engine.store.database import Database
from songtrack.api import Api
from tests.http_api.conftest import PASSWORD, Client, MakeMember, Member, Simulators, serving
from tests.http_api.connect import connect

EXEMPT = {
    ("POST", "/v1/auth/refresh"): "rotates a refresh token: using a session is not a change to it",
    ("POST", "/v1/auth/resend-verification"): "mails a one-time link; following it is recorded",
    ("POST", "/v1/auth/forgot-password"): "mails a one-time link; the reset itself is recorded",
    ("POST", "/v1/auth/check-email"): "reads",
    ("POST", "/v1/meta/conversions"): "events sent on to a Meta pixel; nothing is stored",
    ("POST", "/v1/meta/conversions/batch"): "events sent on to a Meta pixel; nothing is stored",
    ("PATCH", "/v1/meta/campaigns/{meta_campaign_id}"):
        "changes Meta's campaign; ours only mirrors its effective status, the engine's bookkeeping",
    ("POST", "/v1/webhooks/{webhook_id}/test"): "queues a delivery (a data flow), changes no configuration",
    ("POST", "/v1/webhooks/{webhook_id}/events/{event_id}/resend"): "queues a delivery (a data flow)",
    ("POST", "/v1/webhooks/{webhook_id}/recover"): "queues deliveries (a data flow)",
    ("POST", "/v1/notifications/{notification_id}/read"): "a member's own read marks, not the organization's state",
    ("POST", "/v1/notifications/read-all"): "a member's own read marks, not the organization's state",
    ("POST", "/v1/rules/preview"): "computes what a rule would have done; changes nothing",
    ("POST", "/v1/rules/{rule_id}/preview"): "computes what a rule would have done; changes nothing",
    ("POST", "/v1/streaming/events"): "stream events are data, not configuration",
    ("DELETE", "/v1/users/me"): "an erasure leaves nothing naming the person, its own rows included: they keep the"
                                " action, not the actor (tests/http_api/privacy/test_people.py)",
    ("DELETE", "/v1/organization"): "the organization's log goes with it (docs/privacy.md)",
    ("POST", "/v1/listen/consents/{consent_id}/revoke"):
        "a fan withdrawing consent: the consent record keeps when and from where (docs/privacy.md)",
}
GOLDEN = Path(__file__).parents[1] / "adapters" / "stream_reports" / "golden"
CAMPAIGN = {"name": "Summer", "budget": 5000, "currency": "USD", "objective": "streams",
            "startDate": "2027-01-01T00:00:00Z", "endDate": "2027-12-31T23:59:59Z"}
RULE = {"name": "Guard", "action": {"type": "pause_campaign"},
        "condition": {"field": "spend", "operator": "gte", "value": 100}}


class Driver:
    """Makes each call, checks its rows, and remembers which routes it drove."""

    def __init__(self, client: Client, db: Database) -> None:
        self.client, self.db = client, db
        self.driven: set[tuple[str, str]] = set()

    async def __call__(self, method: str, template: str, who: Member | None, *, status: int = 200,
                       ids: dict[str, str] | None = None, **send: Any) -> Any:
        url = re.sub(r"\{(\w+)\}", lambda m: (ids or {})[m.group(1)], template)
        headers = who.headers if who else {}
        response = await self.client.open(url, method=method, headers=headers, **send)
        assert response.status_code == status, (method, template, await response.get_data())
        rows = await self.db.fetch("SELECT actor_type, actor_user_id, source FROM audit_log WHERE request_id = $1",
                                   response.headers["X-Request-ID"])
        actor = ("user", who.user_id) if who else ("anonymous", None)
        assert rows, f"{method} {template} left no audit row"
        assert {(r["actor_type"], r["actor_user_id"], r["source"]) for r in rows} == {(*actor, f"{method} {template}")}
        self.driven.add((method, template))
        return await response.get_json() if status != 204 else None


async def _mailed_token(db: Database, to: str, pattern: str) -> str:
    match = re.search(pattern, (await mail.list_emails(db, to=to, limit=1))[0].body)
    assert match
    return match.group(1)


async def _people(drive: Driver, client: Client, db: Database, make_member: MakeMember, owner: Member) -> None:
    """Signing up, logging in and out, sessions, the organization, its members and invitations."""
    email = f"new-{uuid.uuid4().hex[:6]}@label.example"
    await drive("POST", "/v1/auth/register", None, status=201,
                json={"email": email, "password": PASSWORD, "name": "Nia", "organizationName": "Nia's"})
    # The email's link is a GET: recorded too, as the anonymous owner of the address.
    verified = await client.get("/v1/auth/verify-email/" + await _mailed_token(db, email, r"verify-email\?token=(\S+)"))
    assert verified.status_code == 200, await verified.get_data()
    row = await db.fetchrow("SELECT action, actor_type, source FROM audit_log WHERE request_id = $1",
                            verified.headers["X-Request-ID"])
    assert row is not None and tuple(row) == ("user.updated", "anonymous", "GET /v1/auth/verify-email/{token}")
    await drive("POST", "/v1/auth/login", None, json={"email": owner.email, "password": PASSWORD})
    other = next(s["id"] for s in (await (await client.get("/v1/sessions", headers=owner.headers)).get_json())[
        "sessions"] if s["id"] != str(owner.session_id))
    await drive("DELETE", "/v1/sessions/{session_id}", owner, status=204, ids={"session_id": other})
    await drive("PATCH", "/v1/auth/profile", owner, json={"name": "Renamed"})
    await drive("POST", "/v1/auth/logout", await make_member())
    await drive("POST", "/v1/auth/logout-all", await make_member())
    await client.post("/v1/auth/forgot-password", json={"email": email})
    token = await _mailed_token(db, email, r"/reset-password\?token=(\S+)")
    await drive("POST", "/v1/auth/reset-password", None, json={"token": token, "password": "brand-new-pass"})
    await drive("PATCH", "/v1/organization", owner, json={"name": "Renamed label"})
    member = await make_member(org_id=owner.org_id, role="member")
    await drive("PATCH", "/v1/organization/members/{user_id}", owner, ids={"user_id": str(member.user_id)},
                json={"role": "viewer"})
    await drive("DELETE", "/v1/organization/members/{user_id}", owner, status=204,
                ids={"user_id": str(member.user_id)})
    invited = f"inv-{uuid.uuid4().hex[:6]}@label.example"
    await drive("POST", "/v1/organization/invitations", owner, status=201, json={"email": invited, "role": "member"})
    token = await _mailed_token(db, invited, r"/accept-invitation\?token=(\S+)")
    await drive("POST", "/v1/auth/accept-invitation", None, status=201,
                json={"token": token, "name": "Ivo", "password": PASSWORD})
    dropped = await drive("POST", "/v1/organization/invitations", owner, status=201,
                          json={"email": "x@label.example", "role": "viewer"})
    await drive("DELETE", "/v1/organization/invitations/{invitation_id}", owner, status=204,
                ids={"invitation_id": dropped["id"]})


async def _catalog(drive: Driver, db: Database, owner: Member) -> dict[str, str]:
    """Tracks, campaigns and their lifecycle, listener links, audiences, exports."""
    track = (await drive("POST", "/v1/tracks", owner, status=201, json={"title": "Song", "artist": "Ana"}))["id"]
    await drive("PATCH", "/v1/tracks/{track_id}", owner, ids={"track_id": track}, json={"title": "Song 2"})
    doomed = (await drive("POST", "/v1/tracks", owner, status=201, json={"title": "X", "artist": "Y"}))["id"]
    await drive("DELETE", "/v1/tracks/{track_id}", owner, status=204, ids={"track_id": doomed})
    ids = {"campaign_id": (await drive("POST", "/v1/campaigns", owner, status=201,
                                       json={**CAMPAIGN, "trackId": track}))["id"], "track_id": track}
    await drive("PATCH", "/v1/campaigns/{campaign_id}", owner, ids=ids, json={"name": "Autumn"})
    for step in ("launch", "pause", "archive"):
        await drive("POST", "/v1/campaigns/{campaign_id}/" + step, owner, ids=ids)
    await drive("POST", "/v1/campaigns/{campaign_id}/listen-link", owner, status=201, ids=ids)
    await drive("DELETE", "/v1/campaigns/{campaign_id}/listen-link", owner, status=204, ids=ids)
    listener = await db.fetchval(
        "INSERT INTO listener_accounts (organization_id, spotify_user_id, access_token_sealed)"
        " VALUES ($1, 'fan', 'sealed') RETURNING id", owner.org_id)
    await db.execute("INSERT INTO campaign_listeners (campaign_id, listener_id) VALUES ($1, $2)",
                     uuid.UUID(ids["campaign_id"]), listener)
    await drive("DELETE", "/v1/campaigns/{campaign_id}/listeners/{listener_id}", owner, status=204,
                ids={**ids, "listener_id": str(listener)})
    await drive("POST", "/v1/analytics/campaigns/{campaign_id}/export", owner, ids=ids,
                json={"format": "csv"})
    doomed = (await drive("POST", "/v1/campaigns", owner, status=201, json=CAMPAIGN))["id"]
    await drive("DELETE", "/v1/campaigns/{campaign_id}", owner, status=204, ids={"campaign_id": doomed})
    audience = {"audience_id": (await drive("POST", "/v1/audiences", owner, status=201,
                                            json={"name": "Fans", "criteria": {"ageMin": 18}}))["id"]}
    await drive("PATCH", "/v1/audiences/{audience_id}", owner, ids=audience, json={"name": "Old fans"})
    lookalike = await drive("POST", "/v1/audiences/{audience_id}/lookalike", owner, status=201, ids=audience,
                            json={"name": "Like", "countries": ["US"], "ratio": 0.05})
    await drive("DELETE", "/v1/audiences/{audience_id}", owner, status=204, ids={"audience_id": lookalike["id"]})
    return {**ids, **audience}


async def _providers(drive: Driver, client: Client, sims: Simulators, owner: Member, ids: dict[str, str]) -> None:
    """Connected accounts and what goes through them."""
    await connect(client, sims, "meta", owner)
    await connect(client, sims, "spotify", owner)
    # The provider's redirect back is a public GET: the connection is the member's who started it.
    connected = await drive.db.fetch("SELECT actor_user_id, source FROM audit_log WHERE action = 'integration.created'"
                                     " ORDER BY seq")
    assert [tuple(row) for row in connected] == [(owner.user_id, "GET /v1/auth/meta/callback"),
                                                 (owner.user_id, "GET /v1/auth/spotify/callback")]
    act = "act_" + next(iter(sims.meta.world.accounts))
    await drive("PUT", "/v1/meta/pixels/default", owner, json={"pixelId": next(iter(sims.meta.world.pixels))})
    await drive("POST", "/v1/audiences/{audience_id}/sync/meta", owner, ids=ids, json={"adAccountId": act})
    linked = await drive("POST", "/v1/campaigns", owner, status=201, json=CAMPAIGN)
    await drive("POST", "/v1/meta/campaigns", owner, status=201,
                json={"campaignId": linked["id"], "adAccountId": act, "objective": "OUTCOME_AWARENESS",
                      "budget": 5000, "bidStrategy": "LOWEST_COST_WITHOUT_CAP"})
    spotify_track = next(iter(sims.spotify.world.catalog.tracks))
    await drive("POST", "/v1/tracks/sync/spotify", owner, status=201,
                json={"spotifyUri": f"spotify:track:{spotify_track}"})
    await drive("POST", "/v1/integrations/{provider}/sync", owner, status=202, ids={"provider": "spotify"})
    await drive("DELETE", "/v1/auth/integrations/{provider}", owner, ids={"provider": "meta"})


async def _automation(drive: Driver, owner: Member) -> None:
    """Webhook endpoints, rules and imports."""
    hook = {"webhook_id": (await drive("POST", "/v1/webhooks", owner, status=201,
                                       json={"url": "https://hooks.example.com/in"}))["id"]}
    await drive("PATCH", "/v1/webhooks/{webhook_id}", owner, ids=hook, json={"description": "Ours"})
    await drive("POST", "/v1/webhooks/{webhook_id}/rotate-secret", owner, ids=hook)
    await drive("DELETE", "/v1/webhooks/{webhook_id}", owner, status=204, ids=hook)
    rule = {"rule_id": (await drive("POST", "/v1/rules", owner, status=201, json=RULE))["id"]}
    await drive("PATCH", "/v1/rules/{rule_id}", owner, ids=rule, json={"name": "Guard 2"})
    await drive("POST", "/v1/rules/{rule_id}/disable", owner, ids=rule)
    await drive("POST", "/v1/rules/{rule_id}/enable", owner, ids=rule)
    await drive("DELETE", "/v1/rules/{rule_id}", owner, status=204, ids=rule)
    name = "distrokid_new.tsv"
    await drive("POST", "/v1/imports", owner, status=202,
                files={"file": FileStorage(io.BytesIO((GOLDEN / name).read_bytes()), filename=name)})


async def test_every_state_changing_route_is_audited(
    api: Api, client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    drive = Driver(client, db)
    owner = await make_member()
    with trio.fail_after(60):
        async with serving(api):
            await _people(drive, client, db, make_member, owner)
            ids = await _catalog(drive, db, owner)
            await _providers(drive, client, simulators, owner, ids)
            await _automation(drive, owner)
        doc = await (await client.get("/openapi.json")).get_json()
    mutating = {(method.upper(), path) for path, operations in doc["paths"].items() for method in operations
                if method in ("post", "put", "patch", "delete")}
    assert not drive.driven & set(EXEMPT)
    assert mutating - set(EXEMPT) - drive.driven == set(), "neither driven nor exempt"
    assert set(EXEMPT) <= mutating, "an exemption for a route that is gone"
