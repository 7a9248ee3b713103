"""``GET /v1/users/me/export`` and ``DELETE /v1/users/me`` end to end, on the whole API and a real database.

Rules: the fixture person (an admin, with a name and address nobody else has) makes one of everything they
can through the API; the export is checked by the ids of what they made, and the erasure by
``tests/helpers/naming.rows_naming``, which searches every table for their id, address and name. Refusals
are checked to have erased nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from engine.store.database import Database
from tests.helpers.naming import rows_naming
from tests.http_api.conftest import PASSWORD, Client, MakeMember
from tests.http_api.privacy.making import call, one_of_everything


def _ids(rows: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {str(row[key]) for row in rows}


async def test_the_export_holds_what_they_made_and_no_secret(client: Client, db: Database,
                                                             make_member: MakeMember) -> None:
    made = await one_of_everything(client, db, make_member)
    response = await client.get("/v1/users/me/export", headers=made.person.headers)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="songtrack-my-data-')
    export = json.loads(await response.get_data())
    assert (export["profile"]["id"], export["profile"]["name"]) == (str(made.person.user_id), made.name)
    assert export["memberships"] == [{"organizationId": str(made.person.org_id), "role": "admin",
                                      "organizationName": export["memberships"][0]["organizationName"],
                                      "since": export["memberships"][0]["since"]}]
    assert made.session in _ids(export["sessions"])
    assert made.rule in _ids(export["rulesCreated"])
    assert made.campaign in _ids(export["campaignsPausedByYou"])
    assert {made.campaign} == _ids(export["ruleActions"], "campaign_id")
    assert made.invitation in _ids(export["invitationsSent"])
    assert made.integration in _ids(export["integrationsConnected"])
    assert (_ids(export["importsRequested"]), _ids(export["reportExportsRequested"])) == ({made.upload}, {made.report})
    assert any("Reset" in email["subject"] for email in export["emails"])
    assert any(made.person.email in email["to_address"] for email in export["emails"])
    assert export["webhookEventsNamingYou"] == [] or all(
        str(made.person.user_id) in json.dumps(event) for event in export["webhookEventsNamingYou"])
    text = json.dumps(export)
    for secret in ("password_hash", "token_hash", "_sealed", "state_hash", "argon2"):
        assert secret not in text


async def test_an_erasure_leaves_nothing_that_names_them(client: Client, db: Database,
                                                         make_member: MakeMember) -> None:
    made = await one_of_everything(client, db, make_member)
    person, needles = made.person, [made.person.user_id, made.person.email, made.name]
    assert set(await rows_naming(db, needles)) >= {"users", "sessions", "rule_runs", "campaigns", "outbound_emails"}
    await call(client, "DELETE", "/v1/users/me", person, {"password": PASSWORD}, status=204)
    assert await rows_naming(db, needles) == {}
    # What the organization keeps stays, without the person.
    history = await db.fetch("SELECT user_id, manual FROM rule_runs WHERE campaign_id = $1", uuid.UUID(made.campaign))
    assert [(r["user_id"], r["manual"]) for r in history] == [(None, True), (None, True)]
    assert await db.fetchval("SELECT count(*) FROM rules WHERE id = $1 AND created_by IS NULL",
                             uuid.UUID(made.rule)) == 1
    # The audit log keeps what they did (the rule they created), not who did it or from where.
    created = await db.fetchrow("SELECT actor_type, actor_user_id, actor_label, ip FROM audit_log"
                                " WHERE action = 'rule.created' AND object_id = $1", made.rule)
    assert created is not None and tuple(created) == ("user", None, "", None)


async def test_after_erasure_their_tokens_and_password_open_nothing(client: Client, db: Database,
                                                                    make_member: MakeMember) -> None:
    owner = await make_member()
    person = await make_member(org_id=owner.org_id, role="member")
    await call(client, "DELETE", "/v1/users/me", person, {"password": PASSWORD}, status=204)
    assert (await client.get("/v1/auth/profile", headers=person.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refreshToken": person.refresh_token})
    assert refreshed.status_code == 401
    login = await client.post("/v1/auth/login", json={"email": person.email, "password": PASSWORD})
    assert login.status_code == 401
    assert [m["id"] for m in (await call(client, "GET", "/v1/organization/members", owner))["members"]] == [
        str(owner.user_id)]


async def test_a_wrong_or_missing_password_erases_nothing(client: Client, db: Database,
                                                          make_member: MakeMember) -> None:
    owner = await make_member()
    person = await make_member(org_id=owner.org_id, role="member")
    wrong = await call(client, "DELETE", "/v1/users/me", person, {"password": "not it"}, status=400)
    assert [(d["field"], d["message"]) for d in wrong["error"]["details"]] == [
        ("password", "does not match your current password")]
    missing = await call(client, "DELETE", "/v1/users/me", person, {}, status=400)
    assert [d["field"] for d in missing["error"]["details"]] == ["password"]
    assert (await client.get("/v1/auth/profile", headers=person.headers)).status_code == 200


async def test_the_last_owner_hands_over_or_deletes_the_organization_first(client: Client, db: Database,
                                                                           make_member: MakeMember) -> None:
    alone = await make_member()
    only = await call(client, "DELETE", "/v1/users/me", alone, {"password": PASSWORD}, status=409)
    assert "DELETE /v1/organization" in only["error"]["message"]
    assert only["error"]["details"] == [{"field": "role", "message": "only_member"}]
    owner = await make_member()
    colleague = await make_member(org_id=owner.org_id, role="member")
    last = await call(client, "DELETE", "/v1/users/me", owner, {"password": PASSWORD}, status=409)
    assert "PATCH /v1/organization/members/{id}" in last["error"]["message"]
    assert last["error"]["details"] == [{"field": "role", "message": "last_owner"}]
    await call(client, "PATCH", f"/v1/organization/members/{colleague.user_id}", owner, {"role": "owner"})
    await call(client, "DELETE", "/v1/users/me", owner, {"password": PASSWORD}, status=204)
    assert (await client.get("/v1/auth/profile", headers=colleague.headers)).status_code == 200
