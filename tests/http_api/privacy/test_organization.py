"""``GET /v1/organization/export`` and ``DELETE /v1/organization`` end to end: the whole API, a real database
and the Meta simulator.

Rules: the organization is ``making.one_of_everything``'s; the export is read back as a zip and checked by
ids, kind by kind; the deletion by ``tests/helpers/naming.rows_naming`` over every table, for the
organization's id and each member's id, address and name. (That a pending webhook delivery is never sent
is ``tests/engine/store/test_organization_data.py``'s: it needs the real clock.)
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from engine.store.database import Database
from engine.store.organization_data import EXPORT_KINDS
from http_api.context import ApiContext
from tests.helpers.factories import connect_integration
from tests.helpers.naming import rows_naming
from tests.http_api.conftest import PASSWORD, Client, MakeMember, Simulators
from tests.http_api.privacy.making import Made, call, one_of_everything


async def _export(client: Client, made: Made) -> dict[str, list[dict[str, Any]]]:
    response = await client.get("/v1/organization/export", headers=made.owner.headers)
    assert response.status_code == 200, await response.get_data()
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="songtrack-organization-')
    with zipfile.ZipFile(io.BytesIO(await response.get_data())) as archive:
        assert archive.namelist() == ["README.txt", *(f"{kind}.jsonl" for kind in EXPORT_KINDS)]
        return {name.removesuffix(".jsonl"): [json.loads(line) for line in archive.read(name).splitlines()]
                for name in archive.namelist() if name.endswith(".jsonl")}


def _ids(rows: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {str(row[key]) for row in rows}


async def test_the_export_holds_everything_of_the_organization_and_no_secret(
        client: Client, db: Database, make_member: MakeMember) -> None:
    made = await one_of_everything(client, db, make_member)
    export = await _export(client, made)
    assert _ids(export["organization"]) == {str(made.owner.org_id)}
    assert _ids(export["members"]) == {str(made.owner.user_id), str(made.person.user_id)}
    expected = {"tracks": made.track, "campaigns": made.campaign, "rules": made.rule,
                "invitations": made.invitation, "integrations": made.integration,
                "webhook_endpoints": made.endpoint, "imports": made.upload, "report_exports": made.report}
    for kind, made_id in expected.items():
        assert made_id in _ids(export[kind]), kind
    assert _ids(export["rule_runs"], "campaign_id") == {made.campaign}
    assert any(made.campaign in json.dumps(event["payload"]) for event in export["webhook_events"])
    keys = {key for rows in export.values() for row in rows for key in row}
    assert not {key for key in keys if key.endswith(("_sealed", "_hash")) or key == "content"}


async def test_only_an_owner_exports_or_deletes(client: Client, db: Database, make_member: MakeMember) -> None:
    owner = await make_member()
    admin = await make_member(org_id=owner.org_id, role="admin")
    assert (await client.get("/v1/organization/export", headers=admin.headers)).status_code == 403
    refused = await client.delete("/v1/organization", headers=admin.headers, json={"confirm": "x"})
    assert refused.status_code == 403


async def test_a_wrong_name_deletes_nothing(client: Client, db: Database, make_member: MakeMember) -> None:
    owner = await make_member()
    wrong = await call(client, "DELETE", "/v1/organization", owner, {"confirm": "label"}, status=400)
    assert [d["field"] for d in wrong["error"]["details"]] == ["confirm"]
    assert (await client.get("/v1/organization", headers=owner.headers)).status_code == 200


async def test_deletion_revokes_meta_ends_sessions_and_leaves_nothing_that_names_them(
        client: Client, db: Database, make_member: MakeMember, ctx: ApiContext, simulators: Simulators) -> None:
    made = await one_of_everything(client, db, make_member)
    await connect_integration(db, made.owner.org_id, provider="meta", access_token="SIMULATOR_TOKEN",
                              key=ctx.keys.token_encryption_key)
    org = await call(client, "GET", "/v1/organization", made.owner)
    members = [made.owner, made.person]
    needles = [made.owner.org_id, made.name, *(m.user_id for m in members), *(m.email for m in members)]
    assert await rows_naming(db, needles)
    await call(client, "DELETE", "/v1/organization", made.owner, {"confirm": org["name"]}, status=204)
    revokes = [r for r in simulators.meta.requests if r.method == "DELETE"]
    assert [(r.path, r.status) for r in revokes] == [("/v25.0/me/permissions", 200)]
    assert "SIMULATOR_TOKEN" not in simulators.meta.oauth.tokens  # Meta forgot the grant
    assert await rows_naming(db, needles) == {}
    for member in members:
        assert (await client.get("/v1/auth/profile", headers=member.headers)).status_code == 401
        refreshed = await client.post("/v1/auth/refresh", json={"refreshToken": member.refresh_token})
        assert refreshed.status_code == 401
        login = await client.post("/v1/auth/login", json={"email": member.email, "password": PASSWORD})
        assert login.status_code == 401
