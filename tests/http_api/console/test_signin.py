"""Signing in and out of the console through its HTML forms: the session cookie's attributes, errors
next to their field, the auth limit, logout ending the session row, and ``next`` staying on the site."""

from __future__ import annotations

import pytest

from engine.store.sessions import list_sessions
from http_api.console.cookies import SESSION_COOKIE
from http_api.console.guard import local_path
from tests.http_api.console.conftest import Console, csrf_of


async def test_signing_in_sets_an_httponly_samesite_cookie_and_no_token_reaches_the_page(console: Console) -> None:
    signed = await console.sign_in()
    assert (signed.status_code, signed.headers["Location"]) == (303, "/app")
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    page = await console.browser.get("/app")
    assert page.status_code == 200 and "Moonlit Records" in page.text and "Ada Owner" in page.text
    assert "eyJ" not in page.text and console.browser.cookies[SESSION_COOKIE] not in page.text
    assert (await console.browser.get("/")).headers["Location"] == "/app"


async def test_a_wrong_password_is_shown_next_to_its_field_and_counts_toward_the_limit(console: Console) -> None:
    for _ in range(3):
        wrong = await console.sign_in(password="not the password")
        assert wrong.status_code == 400
        assert 'id="password-error"' in wrong.text and 'aria-describedby="password-error"' in wrong.text
        assert console.user.email in wrong.text  # the email stays filled in
    limited = await console.sign_in()  # even the right password, once the limit is spent
    assert limited.status_code == 429 and "too many attempts" in limited.text
    assert SESSION_COOKIE not in console.browser.cookies


async def test_signing_out_revokes_the_session_row_and_the_old_cookie_no_longer_works(console: Console) -> None:
    await console.sign_in()
    old = console.browser.cookies[SESSION_COOKIE]
    page = await console.browser.get("/app")
    out = await console.browser.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert (out.status_code, out.headers["Location"]) == (303, "/login")
    assert await list_sessions(console.db, console.org.id, console.user.id) == []
    console.browser.cookies.set(SESSION_COOKIE, old)
    again = await console.browser.get("/app")
    assert (again.status_code, again.headers["Location"]) == (303, "/login?next=/app")


@pytest.mark.parametrize("target", ["//evil.example/app", "https://evil.example", "/\\evil.example",
                                    "javascript:alert(1)", "evil.example", "/app\r\nSet-Cookie: x=1"])
async def test_next_never_leaves_the_site(console: Console, target: str) -> None:
    signed = await console.sign_in(next_path=target)
    assert signed.headers["Location"] == "/app"
    assert local_path(target) == "/app"


async def test_next_keeps_a_local_path(console: Console) -> None:
    form = await console.browser.get("/login", params={"next": "/app?tab=1"})
    assert 'name="next" value="/app?tab=1"' in form.text
    assert (await console.sign_in(next_path="/app?tab=1")).headers["Location"] == "/app?tab=1"
