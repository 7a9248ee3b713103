"""The console's organization page: the tier's limit, members' roles changed and members removed through the
API's rules (a role the API refuses is said next to the member's field), invitations sent and revoked (a
bad address under its field), the user's own sessions ended (this browser's own signs it out), and the
engine's status for admins only, as the API."""

from __future__ import annotations

import re
import uuid

import trio

from engine.store import accounts, invitations, leases, nodes
from engine.store.sessions import list_sessions
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from tests.helpers.factories import create_member, create_session
from tests.http_api.console.conftest import Console, csrf_of


async def _as(console: Console, user: accounts.User) -> None:
    session, _ = await create_session(console.db, user)
    console.browser.cookies.set(SESSION_COOKIE, session_cookie(console.ctx.keys, session.id, user.id))


def _email() -> str:
    return f"m-{uuid.uuid4().hex[:8]}@example.com"


async def test_the_page_shows_the_tier_members_and_sessions(console: Console) -> None:
    with trio.fail_after(20):
        await create_member(console.db, console.org.id, _email(), "viewer", name="Vera Viewer")
        await console.sign_in()
        page = (await console.browser.get("/app/organization")).text
        assert "Moonlit Records" in page and "100 API requests per hour" in page  # the free tier, as the API limits it
        assert "Ada Owner (you)" in page and "Vera Viewer" in page and "(this browser)" in page
        assert 'aria-current="page">Organization' in page and "Send the invitation" in page


async def test_role_change_and_a_refused_one_next_to_the_field(console: Console) -> None:
    with trio.fail_after(20):
        member = await create_member(console.db, console.org.id, _email(), "member", name="Max Member")
        admin = await create_member(console.db, console.org.id, _email(), "admin", name="Ann Admin")
        await _as(console, admin)
        page = (await console.browser.get("/app/organization")).text
        changed = await console.browser.post(f"/app/organization/members/{member.id}/role",
                                             data={"csrf_token": csrf_of(page), "role": "admin"})
        assert changed.status_code == 303 and changed.headers["location"] == "/app/organization"
        assert "Max Member is now admin." in (await console.browser.get("/app/organization")).text
        # An admin may not take the owner's role: the API's 403, next to the owner's role field.
        refused = await console.browser.post(f"/app/organization/members/{console.user.id}/role",
                                             data={"csrf_token": csrf_of(page), "role": "viewer"})
        assert refused.status_code == 403
        assert f'aria-invalid="true" aria-describedby="role-{console.user.id}-error"' in refused.text
        error = re.search(rf'<p class="error" id="role-{console.user.id}-error">([^<]+)</p>', refused.text)
        assert error is not None and error.group(1) == "only an owner may grant or remove the owner role"
        bad = await console.browser.post(f"/app/organization/members/{member.id}/role",
                                         data={"csrf_token": csrf_of(page), "role": "emperor"})
        assert bad.status_code == 400 and f'id="role-{member.id}-error"' in bad.text
        roles = {u.id: u.role for u in await accounts.list_members(console.db, console.org.id)}
        assert roles[console.user.id] == "owner" and roles[member.id] == "admin"


async def test_the_last_owner_and_removing_a_member(console: Console) -> None:
    with trio.fail_after(20):
        member = await create_member(console.db, console.org.id, _email(), "member", name="Max Member")
        await console.sign_in()
        page = (await console.browser.get("/app/organization")).text
        last = await console.browser.post(f"/app/organization/members/{console.user.id}/role",
                                          data={"csrf_token": csrf_of(page), "role": "admin"})
        assert last.status_code == 409 and "an organization needs at least one owner" in last.text
        removed = await console.browser.post(f"/app/organization/members/{member.id}/remove",
                                             data={"csrf_token": csrf_of(page)})
        assert removed.status_code == 303
        assert "The member is removed" in (await console.browser.get("/app/organization")).text
        assert await accounts.get_user(console.db, console.org.id, member.id) is None
        gone = await console.browser.post(f"/app/organization/members/{member.id}/remove",
                                          data={"csrf_token": csrf_of(page)})
        assert gone.status_code == 404


async def test_a_member_is_refused_and_sees_no_buttons(console: Console) -> None:
    with trio.fail_after(20):
        member = await create_member(console.db, console.org.id, _email(), "member")
        await _as(console, member)
        page = (await console.browser.get("/app/organization")).text
        assert "Send the invitation" not in page and "/remove" not in page and 'id="invitations"' not in page
        refused = await console.browser.post(f"/app/organization/members/{console.user.id}/role",
                                             data={"csrf_token": csrf_of(page), "role": "viewer"})
        assert refused.status_code == 403 and "this needs the admin role or higher; you are member" in refused.text
        engine = await console.browser.get("/app/engine")
        assert engine.status_code == 403 and "owners; you are member" in engine.text


async def test_invite_with_an_error_next_to_the_field_then_revoke(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page = (await console.browser.get("/app/organization")).text
        bad = await console.browser.post("/app/organization/invitations", data={
            "csrf_token": csrf_of(page), "email": "not-an-address", "role": "member"})
        assert bad.status_code == 400
        assert 'aria-invalid="true" aria-describedby="invite-email-error"' in bad.text
        assert 'value="not-an-address"' in bad.text
        taken = await console.browser.post("/app/organization/invitations",
                                           data={"csrf_token": csrf_of(page), "email": console.user.email,
                                                 "role": "member"})
        assert taken.status_code == 409
        assert re.search(r'<p class="error" id="invite-email-error">already registered</p>', taken.text)
        email = _email()
        sent = await console.browser.post("/app/organization/invitations",
                                          data={"csrf_token": csrf_of(page), "email": email, "role": "viewer"})
        assert sent.status_code == 303
        page = (await console.browser.get("/app/organization")).text
        assert f"An invitation to join as viewer is sent to {email}." in page and "pending" in page
        [invitation] = (await invitations.list_invitations(console.db, console.org.id)).items
        revoked = await console.browser.post(f"/app/organization/invitations/{invitation.id}/revoke",
                                             data={"csrf_token": csrf_of(page)})
        assert revoked.status_code == 303
        [invitation] = (await invitations.list_invitations(console.db, console.org.id)).items
        assert invitation.status == "revoked"


async def test_ending_sessions_another_and_this_one(console: Console) -> None:
    with trio.fail_after(20):
        other, _ = await create_session(console.db, console.user, user_agent="Other Browser")
        await console.sign_in()
        page = (await console.browser.get("/app/organization")).text
        assert "Other Browser" in page
        ended = await console.browser.post(f"/app/sessions/{other.id}/end", data={"csrf_token": csrf_of(page)})
        assert ended.status_code == 303 and ended.headers["location"] == "/app/organization"
        live = await list_sessions(console.db, console.org.id, console.user.id)
        assert [s.id for s in live if s.id == other.id] == [] and len(live) == 1
        mine = live[0].id
        ended = await console.browser.post(f"/app/sessions/{mine}/end", data={"csrf_token": csrf_of(page)})
        assert ended.status_code == 303 and ended.headers["location"] == "/login"
        assert await list_sessions(console.db, console.org.id, console.user.id) == []
        assert (await console.browser.get("/app/organization")).headers["location"] == "/login?next=/app/organization"


async def test_the_engine_page_for_an_owner(console: Console) -> None:
    node = await nodes.register_node(console.db)
    await leases.claim(console.db, node, ["singleton:housekeeper"], ttl=60, limit=1)
    with trio.fail_after(20):
        await console.sign_in()
        page = await console.browser.get("/app/engine")
        assert page.status_code == 200 and "Engine status" in page.text and "Processes" in page.text
        assert "<td>0</td>\n        <td>singleton:housekeeper</td>" in page.text
