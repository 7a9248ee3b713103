"""The console's account pages: sign-up, and the pages the account e-mails link to (verify, forgot and reset
a password, accept an invitation). Each does what its API route does; each e-mail's link, read from the
mail log as the dev mailbox shows it, opens its page; a token shows nowhere but the form that takes it; every
POST needs the pre-session CSRF token and our own origin."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import httpx
import pytest
import trio.testing

from engine.store import invitations, mail
from engine.store.sessions import list_sessions
from http_api.console.cookies import SESSION_COOKIE
from tests.helpers.factories import create_session
from tests.http_api.console.conftest import Console, csrf_of

NEW = {"organizationName": "Night Owl Music", "name": "Noor Founder", "email": "noor@nightowl.example",
       "password": "a long new password"}


async def _post_form(console: Console, path: str, fields: dict[str, str], page: str | None = None) -> httpx.Response:
    """Open ``page`` (``path`` by default) and submit its form with ``fields``, as a person does."""
    form = await console.browser.get(page or path)
    return await console.browser.post(path, data={"csrf_token": csrf_of(form.text), **fields})


async def _mailed_link(console: Console, to: str, page: str) -> str:
    """The path and query of the console link in the newest e-mail to ``to``; it starts with the public URL."""
    body = (await mail.list_emails(console.db, to=to, limit=1))[0].body
    found = re.search(rf"(\S+)({page}\?token=\S+)", body)
    assert found is not None and found.group(1) == console.ctx.public_url, body
    return found.group(2)


def _token_only_in_its_field(html: str, token: str) -> None:
    assert html.count(token) == 1 and f'name="token" value="{token}"' in html


async def test_signing_up_registers_signs_in_and_the_mail_verifies_on_its_page(console: Console) -> None:
    assert 'href="/signup"' in (await console.browser.get("/login")).text
    signed = await _post_form(console, "/signup", NEW)
    assert (signed.status_code, signed.headers["Location"]) == (303, "/app")
    overview = await console.browser.get("/app")
    assert overview.status_code == 200 and "Night Owl Music" in overview.text and "Noor Founder" in overview.text
    link = await _mailed_link(console, NEW["email"], "/verify-email")
    verified = await console.browser.get(link)
    assert verified.status_code == 200 and "Email verified" in verified.text
    assert verified.headers["Referrer-Policy"] == "strict-origin"
    again = await console.browser.get(link)
    assert again.status_code == 400 and "does not work" in again.text and 'href="/login"' in again.text


async def test_sign_up_shows_the_apis_messages_next_to_the_fields(console: Console) -> None:
    bad = await _post_form(console, "/signup", {**NEW, "email": "not an address", "password": "short",
                                                "organizationName": ""})
    assert bad.status_code == 400
    text = bad.text
    for field in ("email", "password", "organizationName"):
        assert f'id="{field}-error"' in text and f'{field}-error"' in text
    assert "expected str of length &gt;= 8" in text and "is required" in text and "expected an email address" in text
    assert 'value="Noor Founder"' in text and "short" not in text  # kept, except the password
    taken = await _post_form(console, "/signup", {**NEW, "email": console.user.email})
    assert taken.status_code == 409 and "already registered" in taken.text
    assert SESSION_COOKIE not in console.browser.cookies


async def test_forgot_then_reset_password_ends_every_session_and_the_new_one_signs_in(console: Console) -> None:
    assert 'href="/forgot-password"' in (await console.browser.get("/login")).text
    await console.sign_in()
    known = await _post_form(console, "/forgot-password", {"email": console.user.email})
    unknown = await _post_form(console, "/forgot-password", {"email": "nobody@nowhere.example"})
    assert known.status_code == unknown.status_code == 202
    assert known.text == unknown.text  # never says whether there is an account
    link = await _mailed_link(console, console.user.email, "/reset-password")
    token = link.partition("token=")[2]
    form = await console.browser.get(link)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "strict-origin"
    _token_only_in_its_field(form.text, token)
    differ = await _post_form(console, "/reset-password", {"token": token, "password": "new password 1",
                                                           "password2": "new password 2"}, page=link)
    assert differ.status_code == 400 and 'id="password2-error"' in differ.text
    _token_only_in_its_field(differ.text, token)
    done = await _post_form(console, "/reset-password", {"token": token, "password": "new password 1",
                                                         "password2": "new password 1"}, page=link)
    assert done.status_code == 200 and "Password changed" in done.text and token not in done.text
    assert await list_sessions(console.db, console.org.id, console.user.id) == []  # signed out everywhere
    assert (await console.browser.get("/app")).status_code == 303
    used = await _post_form(console, "/reset-password", {"token": token, "password": "new password 3",
                                                         "password2": "new password 3"}, page=link)
    assert used.status_code == 400 and 'href="/forgot-password"' in used.text
    assert (await console.sign_in(password="new password 1")).headers["Location"] == "/app"


async def test_an_invitation_shows_its_organization_and_role_and_accepting_signs_in(console: Console) -> None:
    session, _ = await create_session(console.db, console.user, ttl=timedelta(days=1))
    bearer = console.ctx.tokens.mint(user_id=console.user.id, org_id=console.org.id, role="owner",
                                     session_id=session.id)
    invited = await console.browser.post("/v1/organization/invitations", json={
        "email": "vic@moonlit.example", "role": "viewer"}, headers={"Authorization": f"Bearer {bearer}"})
    assert invited.status_code == 201
    link = await _mailed_link(console, "vic@moonlit.example", "/accept-invitation")
    token = link.partition("token=")[2]
    page = await console.browser.get(link)
    assert page.status_code == 200 and "Join Moonlit Records" in page.text and "viewer" in page.text
    _token_only_in_its_field(page.text, token)
    short = await _post_form(console, "/accept-invitation", {"token": token, "name": "Vic", "password": "short"},
                             page=link)
    assert short.status_code == 400 and 'id="password-error"' in short.text
    accepted = await _post_form(console, "/accept-invitation", {"token": token, "name": "Vic Viewer",
                                                                "password": "a fine password"}, page=link)
    assert (accepted.status_code, accepted.headers["Location"]) == (303, "/app")
    overview = await console.browser.get("/app")
    assert "Vic Viewer" in overview.text and "viewer" in overview.text
    again = await console.browser.get(link)
    assert again.status_code == 400 and "does not work" in again.text and token not in again.text


async def test_an_unknown_or_missing_invitation_token_says_the_link_does_not_work(console: Console) -> None:
    assert await invitations.find_pending_invitation(console.db, "nope") is None
    for path in ("/accept-invitation?token=nope", "/accept-invitation"):
        page = await console.browser.get(path)
        assert page.status_code == 400 and "does not work" in page.text


@pytest.mark.parametrize("path", ["/signup", "/forgot-password", "/reset-password", "/accept-invitation"])
async def test_every_form_needs_its_csrf_token_and_our_origin(console: Console, path: str) -> None:
    await console.browser.get("/login")  # the browser holds a pre-session token cookie
    fields = {"email": "x@label.example", "token": "t", "password": "a long password", "name": "X"}
    missing = await console.browser.post(path, data=fields)
    assert missing.status_code == 403 and "Nothing was changed" in missing.text
    form = await console.browser.get("/login")
    foreign = await console.browser.post(path, data={"csrf_token": csrf_of(form.text), **fields},
                                         headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert await mail.list_emails(console.db, to="x@label.example", limit=1) == []


async def test_the_access_log_leaves_the_token_out(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="songtrack.access")
    await console.browser.get("/reset-password?token=secret-in-the-link")  # the access log has no query string
    await trio.testing.wait_all_tasks_blocked()  # the server logs the request after answering it
    assert "GET /reset-password " in caplog.text and "secret-in-the-link" not in caplog.text
