"""The console's audit log page over real HTTP: a change made through a console form is listed with its
person, the form's route, the fields it set and the request id the browser got; the filters narrow the list;
a member neither sees the page's link nor the page (403).
"""

from __future__ import annotations

import trio

from tests.http_api.console.conftest import Console, csrf_of, sign_in_as_member


async def test_a_console_change_is_listed_with_who_and_where(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page = await console.browser.get("/app/tracks")
        assert 'href="/app/audit"' in page.text
        added = await console.browser.post("/app/tracks", data={
            "csrf_token": csrf_of(page.text), "title": "Night Drive", "artist": "Ana"})
        assert added.status_code == 303, added.text
        listed = await console.browser.get("/app/audit", params={"objectType": "track"})
        assert listed.status_code == 200
        assert "track.created" in listed.text and "POST /app/tracks" in listed.text
        assert console.user.email in listed.text and 'artist</code>:  → "Ana"' in listed.text
        assert "album</code>" not in listed.text  # a creation shows the fields it set
        assert added.headers["X-Request-ID"] in listed.text
        assert "session.created" not in listed.text  # the filter kept tracks only
        everything = await console.browser.get("/app/audit", params={"fromDay": "2000-01-01", "toDay": "2999-12-31"})
        assert "session.created" in everything.text and "POST /login" in everything.text
        none = await console.browser.get("/app/audit", params={"toDay": "2000-01-01"})
        assert "No change matches" in none.text


async def test_a_member_is_refused(console: Console) -> None:
    with trio.fail_after(20):
        await sign_in_as_member(console, "member")
        assert 'href="/app/audit"' not in (await console.browser.get("/app/tracks")).text
        refused = await console.browser.get("/app/audit")
        assert refused.status_code == 403 and "owners; you are member" in refused.text
