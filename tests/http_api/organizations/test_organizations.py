"""The organization, member and invitation routes end to end, on a real database.

Rules: callers come from ``make_member`` (real sessions and tokens); an invitation is followed through
the dev mailbox, as a person would; every refusal is also checked to have changed nothing. The app
here holds only the routers under test, so these tests do not depend on the rest of the API.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from quart_trio import QuartTrio

from engine.passwords import verify_password
from engine.store import accounts
from engine.store.database import Database
from http_api.context import ApiContext
from http_api.errors import install_error_handlers
from http_api.ops.dev import dev_router
from http_api.organizations.organizations import organizations_router
from tests.http_api.conftest import Client, MakeMember, Member
from tests.http_api.paging import assert_paged

NEW_PASSWORD = "a-fine-new-password"


@pytest.fixture
def app(ctx: ApiContext) -> QuartTrio:
    app = QuartTrio(__name__)
    install_error_handlers(app)
    for router in (organizations_router(ctx), dev_router(ctx)):
        app.register_blueprint(router.blueprint)
    return app


async def _json(client: Client, method: str, path: str, who: Member | None = None,
                status: int = 200, json: object = None) -> Any:
    headers = who.headers if who else {}
    # Quart sends json=None as a "null" body, so "no body" has to be a different call.
    extra = {} if json is None else {"json": json}
    response = await client.open(path, method=method, headers=headers, **extra)
    assert response.status_code == status, await response.get_data()
    return await response.get_json() if status != 204 else None


def _fields(body: Any) -> list[str]:
    return [d["field"] for d in body["error"]["details"]]


async def _roles(client: Client, who: Member) -> dict[str, str]:
    body = await _json(client, "GET", "/v1/organization/members", who)
    return {m["email"]: m["role"] for m in body["members"]}


async def _invite(client: Client, admin: Member, email: str, role: str = "member") -> dict[str, str]:
    return await _json(client, "POST", "/v1/organization/invitations", admin, 201,
                       json={"email": email, "role": role})


async def _mailed_token(client: Client, to: str) -> str:
    body = await _json(client, "GET", f"/v1/dev/mailbox?to={to}&limit=1")
    match = re.search(r"/accept-invitation\?token=(\S+)", body["emails"][0]["body"])
    assert match, body
    return match.group(1)


async def _accept(client: Client, token: str, status: int = 201, password: str = NEW_PASSWORD) -> Any:
    return await _json(client, "POST", "/v1/auth/accept-invitation", status=status,
                       json={"token": token, "name": "Nia New", "password": password})


# --- the organization ---------------------------------------------------------------------------------


async def test_any_member_reads_the_organization_and_only_an_owner_changes_it(
    client: Client, make_member: MakeMember
) -> None:
    owner = await make_member()
    viewer, admin = [await make_member(org_id=owner.org_id, role=r) for r in ("viewer", "admin")]
    org = await _json(client, "GET", "/v1/organization", viewer)
    assert sorted(org) == ["createdAt", "id", "name", "tier"]
    assert (org["id"], org["tier"]) == (str(owner.org_id), "free")
    await _json(client, "PATCH", "/v1/organization", admin, 403, json={"tier": "enterprise"})
    changed = await _json(client, "PATCH", "/v1/organization", owner, json={"name": "B", "tier": "starter"})
    assert (changed["name"], changed["tier"]) == ("B", "starter")
    bad = await _json(client, "PATCH", "/v1/organization", owner, 400, json={"tier": "gold", "x": 1})
    assert sorted(_fields(bad)) == ["tier", "x"]
    assert await _json(client, "GET", "/v1/organization", viewer) == changed


async def test_members_are_listed_without_secrets(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    body = await _json(client, "GET", "/v1/organization/members", viewer)
    assert [m["email"] for m in body["members"]] == [owner.email, viewer.email]
    assert sorted(body["members"][1]) == ["createdAt", "email", "emailVerified", "id", "name", "role"]
    assert body["members"][1]["emailVerified"] is True  # the invitation reached the mailbox


async def test_members_and_invitations_are_paged(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    joined = [await make_member(org_id=owner.org_id, role="viewer") for _ in range(2)]  # each by an invitation
    members = await assert_paged(client, "/v1/organization/members", owner.headers, "members", total=3)
    assert [m["email"] for m in members] == [owner.email, *(m.email for m in joined)]  # oldest first
    for address in ("one@label.example", "two@label.example"):
        await _invite(client, owner, address)
    invited = await assert_paged(client, "/v1/organization/invitations", owner.headers, "invitations", total=4)
    assert [i["email"] for i in invited[:2]] == ["two@label.example", "one@label.example"]  # newest first


# --- roles --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_viewers_and_members_cannot_manage_people(
    client: Client, make_member: MakeMember, role: str
) -> None:
    owner = await make_member()
    caller = await make_member(org_id=owner.org_id, role=role)
    invitation = await _invite(client, owner, "i@label.example")
    member_path = f"/v1/organization/members/{owner.user_id}"
    for method, path, body in [
        ("PATCH", member_path, {"role": "viewer"}), ("DELETE", member_path, None),
        ("POST", "/v1/organization/invitations", {"email": "x@label.example", "role": "viewer"}),
        ("GET", "/v1/organization/invitations", None),
        ("DELETE", f"/v1/organization/invitations/{invitation['id']}", None),
    ]:
        await _json(client, method, path, caller, 403, json=body)
    assert await _roles(client, owner) == {owner.email: "owner", caller.email: role}


async def test_an_admin_manages_members_but_not_owners(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    admin, member = [await make_member(org_id=owner.org_id, role=r) for r in ("admin", "member")]
    path = f"/v1/organization/members/{member.user_id}"
    changed = await _json(client, "PATCH", path, admin, json={"role": "viewer"})
    assert changed["role"] == "viewer"
    await _json(client, "PATCH", path, admin, 403, json={"role": "owner"})
    owner_path = f"/v1/organization/members/{owner.user_id}"
    await _json(client, "PATCH", owner_path, admin, 403, json={"role": "member"})
    await _json(client, "DELETE", owner_path, admin, 403)
    assert await _roles(client, owner) == {owner.email: "owner", admin.email: "admin", member.email: "viewer"}
    await _json(client, "PATCH", path, owner, json={"role": "owner"})
    await _json(client, "PATCH", owner_path, owner, json={"role": "admin"})  # another owner exists now
    assert (await _roles(client, owner))[owner.email] == "admin"


async def test_the_last_owner_cannot_be_demoted_or_removed(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    path = f"/v1/organization/members/{owner.user_id}"
    demote = await _json(client, "PATCH", path, owner, 409, json={"role": "admin"})
    assert demote["error"]["code"] == "CONFLICT"
    await _json(client, "DELETE", path, owner, 409)
    second = await make_member(org_id=owner.org_id, role="owner")
    await _json(client, "DELETE", path, second, 204)
    assert await _roles(client, second) == {second.email: "owner"}


async def test_a_removed_member_is_gone_and_their_tokens_are_dead(
    client: Client, make_member: MakeMember, db: Database
) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    await _json(client, "GET", "/v1/organization", member)
    path = f"/v1/organization/members/{member.user_id}"
    await _json(client, "DELETE", path, owner, 204)
    await _json(client, "GET", "/v1/organization", member, 401)
    assert await db.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", member.user_id) == 0
    await _json(client, "DELETE", path, owner, 404)
    unknown = f"/v1/organization/members/{uuid.uuid4()}"
    await _json(client, "PATCH", unknown, owner, 404, json={"role": "viewer"})


# --- invitations --------------------------------------------------------------------------------------


async def test_an_emailed_invitation_is_accepted_into_the_member_list(
    client: Client, make_member: MakeMember, db: Database, ctx: ApiContext
) -> None:
    admin = await make_member()
    invitation = await _invite(client, admin, "Nia.New@Label.EXAMPLE", role="admin")
    assert invitation["email"] == "Nia.New@label.example" and invitation["status"] == "pending"
    assert "token" not in str(invitation).lower() and invitation["invitedBy"] == str(admin.user_id)
    token = await _mailed_token(client, "nia.new@label.example")
    mailbox = await _json(client, "GET", "/v1/dev/mailbox?to=nia.new@label.example")
    # The link opens the console's page; API clients read the token from it.
    assert f"\n{ctx.public_url}/accept-invitation?token={token}\n" in mailbox["emails"][0]["body"]
    accepted = await _accept(client, token)
    assert (accepted["user"]["role"], accepted["user"]["emailVerified"]) == ("admin", True)
    assert (await _roles(client, admin))["Nia.New@label.example"] == "admin"
    listed = await _json(client, "GET", "/v1/organization/invitations", admin)
    assert [i["status"] for i in listed["invitations"]] == ["accepted"]
    credentials = await accounts.get_credentials_by_email(db, "nia.new@label.example")
    assert credentials is not None and await verify_password(credentials.password_hash, NEW_PASSWORD)


async def test_used_revoked_and_bad_invitation_tokens_are_refused(
    client: Client, make_member: MakeMember
) -> None:
    admin = await make_member()
    await _invite(client, admin, "once@label.example")
    token = await _mailed_token(client, "once@label.example")
    await _accept(client, token, 400, password="short")
    await _accept(client, token)
    assert _fields(await _accept(client, token, 400)) == ["token"]
    revoked = await _invite(client, admin, "revoked@label.example")
    await _json(client, "DELETE", f"/v1/organization/invitations/{revoked['id']}", admin, 204)
    await _json(client, "DELETE", f"/v1/organization/invitations/{revoked['id']}", admin, 404)
    assert _fields(await _accept(client, await _mailed_token(client, "revoked@label.example"), 400)) == [
        "token"
    ]
    assert "revoked@label.example" not in await _roles(client, admin)


async def test_invitations_are_validated_and_registered_addresses_conflict(
    client: Client, make_member: MakeMember
) -> None:
    admin = await make_member()
    taken = await _json(client, "POST", "/v1/organization/invitations", admin, 409,
                        json={"email": admin.email.upper(), "role": "member"})
    assert taken["error"]["code"] == "CONFLICT" and _fields(taken) == ["email"]
    for email, role, field in [("not-an-email", "member", "email"), ("a@b", "member", "email"),
                               ("x" * 250 + "@a.example", "member", "email"),
                               ("ok@label.example", "owner", "role")]:
        bad = await _json(client, "POST", "/v1/organization/invitations", admin, 400,
                          json={"email": email, "role": role})
        assert _fields(bad) == [field]
    listed = await _json(client, "GET", "/v1/organization/invitations", admin)
    assert listed == {"invitations": [], "pagination": {"total": 0, "limit": 20, "offset": 0, "hasNext": False}}


async def test_another_organizations_ids_are_not_found(client: Client, make_member: MakeMember) -> None:
    owner_a = await make_member()
    member_a = await make_member(org_id=owner_a.org_id, role="member")
    invitation = await _invite(client, owner_a, "a-invitee@label.example")
    admin_b = await make_member()
    for method, path, body in [
        ("PATCH", f"/v1/organization/members/{member_a.user_id}", {"role": "viewer"}),
        ("DELETE", f"/v1/organization/members/{member_a.user_id}", None),
        ("DELETE", f"/v1/organization/invitations/{invitation['id']}", None),
    ]:
        await _json(client, method, path, admin_b, 404, json=body)
    assert await _roles(client, owner_a) == {owner_a.email: "owner", member_a.email: "member"}
    listed = await _json(client, "GET", "/v1/organization/invitations", owner_a)
    assert {i["email"]: i["status"] for i in listed["invitations"]}["a-invitee@label.example"] == "pending"
    assert await _roles(client, admin_b) == {admin_b.email: "owner"}
