"""The console's cookie is the API's session row: ending the row through the API ends the cookie; the
JSON API never accepts the cookie; every console POST needs its CSRF token and our own origin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.store.sessions import list_sessions
from http_api.console.cookies import SESSION_COOKIE
from tests.helpers.factories import create_session
from tests.http_api.console.conftest import PASSWORD, Console, csrf_of


async def _api_headers(console: Console) -> dict[str, str]:
    """A Bearer token of another session of the same user, as a script or the API client holds one."""
    session, _ = await create_session(console.db, console.user, ttl=timedelta(days=1))
    token = console.ctx.tokens.mint(user_id=console.user.id, org_id=console.org.id, role="owner",
                                    session_id=session.id)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("how", ["end the session", "logout-all"])
async def test_ending_the_session_through_the_api_ends_the_cookie(console: Console, how: str) -> None:
    headers = await _api_headers(console)
    await console.sign_in()
    assert (await console.browser.get("/app")).status_code == 200
    mine = [s for s in await list_sessions(console.db, console.org.id, console.user.id) if s.user_agent != "pytest"]
    if how == "end the session":
        ended = await console.browser.delete(f"/v1/sessions/{mine[0].id}", headers=headers)
        assert ended.status_code == 204
    else:
        assert (await console.browser.post("/v1/auth/logout-all", headers=headers)).status_code == 200
    assert (await console.browser.get("/app")).headers["Location"] == "/login?next=/app"


async def test_the_json_api_ignores_the_cookie(console: Console) -> None:
    await console.sign_in()
    assert SESSION_COOKIE in console.browser.cookies
    profile = await console.browser.get("/v1/auth/profile")
    assert profile.status_code == 401 and profile.headers["content-type"].startswith("application/json")
    assert (await console.browser.post("/v1/auth/logout")).status_code == 401


@pytest.mark.parametrize(("token", "origin"), [
    (None, None), ("wrong", None), ("right", "https://evil.example"), ("right", "null"),
])
async def test_a_logout_without_the_right_token_or_from_another_site_is_refused(
        console: Console, token: str | None, origin: str | None) -> None:
    await console.sign_in()
    right = csrf_of((await console.browser.get("/app")).text)
    data = {} if token is None else {"csrf_token": right if token == "right" else token}
    refused = await console.browser.post("/logout", data=data, headers={"Origin": origin} if origin else {})
    assert refused.status_code == 403 and "Request refused" in refused.text
    assert (await console.browser.get("/app")).status_code == 200  # still signed in: nothing changed
    assert len(await list_sessions(console.db, console.org.id, console.user.id)) == 1  # the row is live


async def test_a_foreign_referer_is_refused_and_our_own_origin_passes(console: Console) -> None:
    await console.sign_in()
    token = csrf_of((await console.browser.get("/app")).text)
    foreign = await console.browser.post("/logout", data={"csrf_token": token},
                                         headers={"Referer": "https://evil.example/page"})
    assert foreign.status_code == 403
    ours = await console.browser.post("/logout", data={"csrf_token": token},
                                      headers={"Origin": str(console.browser.base_url).rstrip("/")})
    assert ours.status_code == 303


async def test_the_sign_in_form_needs_its_own_csrf_token(console: Console) -> None:
    await console.browser.get("/login")
    data = {"email": console.user.email, "password": "whatever", "csrf_token": "forged"}
    refused = await console.browser.post("/login", data=data)
    assert refused.status_code == 403 and SESSION_COOKIE not in console.browser.cookies
    form = await console.browser.get("/login")
    data = {"email": console.user.email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    cross = await console.browser.post("/login", data=data, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and SESSION_COOKIE not in console.browser.cookies
