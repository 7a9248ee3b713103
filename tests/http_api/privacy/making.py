"""What the privacy tests arrange: a person who made one of everything they can, through the API as a
client would (and the store's factories where the API needs a provider's login), and ``call`` for the
requests around it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.store import imports, report_exports
from engine.store.database import Database
from tests.helpers.factories import connect_integration, create_endpoint, create_track
from tests.http_api.conftest import PASSWORD, Client, MakeMember, Member
from tests.http_api.post import post_created

__all__ = ["Made", "call", "one_of_everything"]

RUNNING = {"name": "Spring push", "budget": 500, "currency": "USD", "objective": "streams",
           "startDate": "2027-01-01T00:00:00Z", "endDate": "2027-03-31T23:59:59Z"}
RULE = {"name": "Pause costly streams", "action": {"type": "pause_campaign", "config": {}}, "cooldownHours": 24,
        "condition": {"field": "spend", "operator": "gte", "value": 100}, "appliesTo": {"campaigns": None}}


@dataclass(frozen=True)
class Made:
    """What the fixture person made, by id."""

    owner: Member
    person: Member
    name: str
    track: str
    endpoint: str
    upload: str  # an import they started
    report: str  # an export they asked for
    campaign: str
    rule: str
    invitation: str
    integration: str
    session: str


async def call(client: Client, method: str, path: str, who: Member, body: object = None, status: int = 200) -> Any:
    """The JSON answer of ``who``'s request; asserts ``status``."""
    extra = {} if body is None else {"json": body}
    response = await client.open(path, method=method, headers=who.headers, **extra)
    assert response.status_code == status, await response.get_data()
    return None if status == 204 else await response.get_json()


async def one_of_everything(client: Client, db: Database, make_member: MakeMember) -> Made:
    """An organization whose admin (with a name and address nobody else has) made one of everything."""
    owner = await make_member()
    person = await make_member(org_id=owner.org_id, role="admin")
    name = f"Ximena Quartz {uuid.uuid4().hex[:8]}"
    await call(client, "PATCH", "/v1/auth/profile", person, {"name": name})
    await call(client, "POST", "/v1/auth/forgot-password", person, {"email": person.email}, 202)  # mail to them
    login = await client.post("/v1/auth/login", json={"email": person.email, "password": PASSWORD},
                              headers={"User-Agent": "their-browser/1.0"})
    assert login.status_code == 200
    track = await create_track(db, owner.org_id)
    campaign = await post_created(client, person.headers, "/v1/campaigns", RUNNING | {"trackId": str(track)})
    await call(client, "POST", f"/v1/campaigns/{campaign['id']}/launch", person)
    await call(client, "POST", f"/v1/campaigns/{campaign['id']}/pause", person)  # a manual action, by their id
    rule = await post_created(client, person.headers, "/v1/rules", RULE)
    invitation = await post_created(client, person.headers, "/v1/organization/invitations",
                                    {"email": f"guest-{uuid.uuid4().hex[:6]}@example.com", "role": "viewer"})
    integration = await connect_integration(db, owner.org_id, connected_by=person.user_id)
    endpoint = await create_endpoint(db, owner.org_id)
    session = await db.fetchval("SELECT id FROM sessions WHERE user_id = $1 AND user_agent = 'their-browser/1.0'",
                                person.user_id)
    upload, report = await _requested(db, person)
    return Made(owner, person, name, str(track), str(endpoint), upload, report, campaign["id"], rule["id"],
                invitation["id"], str(integration.id), str(session))


async def _requested(db: Database, person: Member) -> tuple[str, str]:
    """An import and a report export ``person`` started, recorded as the upload and the export routes record
    them (test_imports.py and test_reports.py run real ones, with the job runner)."""
    upload = imports.NewImport(sha256="0" * 64, filename="songs.csv", size_bytes=10, kind="s4a_songs",
                               encoding="utf-8", total_rows=0)
    record, _ = await imports.start_import(db, person.org_id, upload, [], person.user_id)
    report = report_exports.NewExport(kind="daily", campaign_id=None, format="csv", granularity="day",
                                      period_start=date(2027, 1, 1), period_end=date(2027, 1, 1),
                                      filename="daily.csv", expires_at=datetime(2100, 1, 1, tzinfo=UTC))
    made = await report_exports.create_export(db, person.org_id, report, person.user_id)
    assert made is not None
    return str(record.id), str(made.id)
