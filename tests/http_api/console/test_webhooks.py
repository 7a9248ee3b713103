"""The console's webhooks pages: creating an endpoint through the API's checks (a refused URL is said
next to its field), its secret shown once, the endpoint's deliveries with their attempt logs, and the
test, resend and rotate buttons, each refused without its CSRF token and scoped to the organization. No
dispatcher runs here: an attempt is recorded as the dispatcher records one."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import trio

from engine.store import webhook_deliveries
from engine.webhooks.schedule import Decision
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from tests.helpers.factories import create_endpoint, create_member, create_owner, create_session
from tests.http_api.console.conftest import Console, csrf_of

_LEASE = timedelta(seconds=30)
_SECRET = re.compile(r'<code id="secret">(whsec_[^<]+)</code>')


async def _create(console: Console, url: str, *events: str) -> tuple[int, str]:
    form = await console.browser.get("/app/webhooks")
    answer = await console.browser.post("/app/webhooks", data={"csrf_token": csrf_of(form.text), "url": url,
                                                               "events": list(events)})
    return answer.status_code, answer.text


async def test_creating_shows_the_secret_once_and_never_again(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        status, page = await _create(console, "https://hooks.example.com/in", "campaign.launched", "webhook.test")
        assert status == 201
        secret = _SECRET.search(page)
        assert secret is not None and "it is not shown again" in page and 'data-copy="secret"' in page
        assert "copy.js" in page
        endpoint_id = await console.db.fetchval("SELECT id FROM webhook_endpoints WHERE organization_id = $1",
                                                console.org.id)
        listed = (await console.browser.get("/app/webhooks")).text
        assert "https://hooks.example.com/in" in listed and "campaign.launched, webhook.test" in listed
        shown = (await console.browser.get(f"/app/webhooks/{endpoint_id}")).text
        assert secret.group(1) not in listed and secret.group(1) not in shown
        assert "No delivery yet" in shown


async def test_a_refused_url_is_said_next_to_its_field(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        status, page = await _create(console, "http://127.0.0.1:9/hook", "webhook.test")
        assert status == 400
        assert re.search(r'aria-invalid="true" aria-describedby="url-error"', page)
        error = re.search(r'<p class="error" id="url-error">([^<]+)</p>', page)
        assert error is not None and "127.0.0.1" in error.group(1)
        assert 'value="http://127.0.0.1:9/hook"' in page and 'value="webhook.test" checked' in page
        status, page = await _create(console, "ftp://hooks.example.com/in")
        assert status == 400 and 'id="url-error"' in page
        assert await console.db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_test_resend_and_rotate_with_the_attempt_log(console: Console) -> None:
    with trio.fail_after(20):
        endpoint = await create_endpoint(console.db, console.org.id, key=console.ctx.keys.token_encryption_key)
        await console.sign_in()
        page = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        tested = await console.browser.post(f"/app/webhooks/{endpoint}/test", data={"csrf_token": csrf_of(page)})
        assert tested.status_code == 303 and tested.headers["location"] == f"/app/webhooks/{endpoint}"
        page = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        event_id = re.search(r"A webhook.test event \((evt_[0-9a-f]+)\) is queued", page)
        assert event_id is not None and "No attempt yet" in page
        assert f'hx-get="/app/webhooks/{endpoint}/deliveries" hx-trigger="every 2s"' in page  # until the attempt
        await _attempt(console, status_code=500, error="HTTP 500")
        part = (await console.browser.get(f"/app/webhooks/{endpoint}/deliveries")).text
        assert part.lstrip().startswith("<section") and "hx-get" not in part  # the polling stops with the first attempt
        assert "webhook.test" in part and "HTTP 500" in part and "Attempt log" in part and " UTC" in part
        page = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        resent = await console.browser.post(f"/app/webhooks/{endpoint}/events/{event_id.group(1)}/resend",
                                            data={"csrf_token": csrf_of(page)})
        assert resent.status_code == 303
        assert "is queued for delivery again" in (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        rotated = await console.browser.post(f"/app/webhooks/{endpoint}/rotate-secret",
                                             data={"csrf_token": csrf_of(page)})
        assert rotated.status_code == 200 and _SECRET.search(rotated.text) is not None
        assert "The previous secret also signs deliveries until" in rotated.text


async def _attempt(console: Console, *, status_code: int, error: str) -> None:
    """One failed attempt at the organization's due delivery, recorded as the dispatcher records one."""
    now = datetime.now(UTC)
    (claim,) = await webhook_deliveries.claim_due(console.db, "test", now=now, lease=_LEASE, limit=1)
    result = webhook_deliveries.AttemptResult(attempted_at=now, status_code=status_code, error=error,
                                              duration_ms=12, response_body="no")
    attempted = webhook_deliveries.Attempted(claim, result, Decision("retry", 60.0))
    await webhook_deliveries.record_attempts(console.db, "test", [attempted], now=now)


async def test_buttons_without_the_csrf_token_change_nothing(console: Console) -> None:
    with trio.fail_after(20):
        endpoint = await create_endpoint(console.db, console.org.id, key=console.ctx.keys.token_encryption_key)
        sealed = await console.db.fetchval("SELECT secret_sealed FROM webhook_endpoints")
        await console.sign_in()
        for path in (f"/app/webhooks/{endpoint}/test", f"/app/webhooks/{endpoint}/rotate-secret", "/app/webhooks"):
            refused = await console.browser.post(path, data={"url": "https://hooks.example.com/x"})
            assert refused.status_code == 403 and "Nothing was changed" in refused.text
        assert await console.db.fetchval("SELECT count(*) FROM webhook_events") == 0
        assert await console.db.fetchval("SELECT count(*) FROM webhook_endpoints") == 1
        assert await console.db.fetchval("SELECT secret_sealed FROM webhook_endpoints") == sealed


async def test_another_organizations_endpoint_is_not_found(console: Console) -> None:
    with trio.fail_after(20):
        other, _ = await create_owner(console.db, f"other-{uuid.uuid4().hex[:8]}@example.com")
        theirs = await create_endpoint(console.db, other.id, key=console.ctx.keys.token_encryption_key)
        await console.sign_in()
        page = await console.browser.get(f"/app/webhooks/{theirs}")
        assert page.status_code == 404 and "There is no such webhook endpoint" in page.text
        part = await console.browser.get(f"/app/webhooks/{theirs}/deliveries")
        assert part.status_code == 286 and part.text == ""  # htmx's "stop polling"
        token = csrf_of((await console.browser.get("/app/webhooks")).text)
        for path in (f"/app/webhooks/{theirs}/test", f"/app/webhooks/{theirs}/rotate-secret"):
            assert (await console.browser.post(path, data={"csrf_token": token})).status_code == 404
        assert await console.db.fetchval("SELECT count(*) FROM webhook_events") == 0


async def test_a_viewer_sees_the_pages_without_their_buttons_and_cannot_press_them(console: Console) -> None:
    with trio.fail_after(20):
        endpoint = await create_endpoint(console.db, console.org.id, key=console.ctx.keys.token_encryption_key)
        viewer = await create_member(console.db, console.org.id, f"viewer-{uuid.uuid4().hex[:8]}@example.com",
                                     "viewer")
        session, _ = await create_session(console.db, viewer)
        console.browser.cookies.set(SESSION_COOKIE, session_cookie(console.ctx.keys, session.id, viewer.id))
        listed = (await console.browser.get("/app/webhooks")).text
        assert "https://hooks.example.com/in" in listed and "Add the endpoint" not in listed
        shown = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        assert "Send a test event" not in shown and "Rotate the secret" not in shown
        integrations = (await console.browser.get("/app/integrations")).text
        assert "Connect Meta" not in integrations and "Connect Spotify" not in integrations
        token = csrf_of(shown)  # the sign-out form's: the viewer's own session token
        for path in (f"/app/webhooks/{endpoint}/test", "/app/integrations/meta/sync"):
            refused = await console.browser.post(path, data={"csrf_token": token})
            assert refused.status_code == 403 and "role" in refused.text
        assert await console.db.fetchval("SELECT count(*) FROM webhook_events") == 0


async def test_recover_queues_failed_deliveries_since_a_time(console: Console) -> None:
    with trio.fail_after(20):
        endpoint = await create_endpoint(console.db, console.org.id, key=console.ctx.keys.token_encryption_key)
        await console.sign_in()
        page = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        assert 'type="datetime-local"' in page and "Events since (UTC)" in page
        await console.browser.post(f"/app/webhooks/{endpoint}/test", data={"csrf_token": csrf_of(page)})
        now = datetime.now(UTC)
        (claim,) = await webhook_deliveries.claim_due(console.db, "test", now=now, lease=_LEASE, limit=1)
        result = webhook_deliveries.AttemptResult(attempted_at=now, status_code=500, error="HTTP 500",
                                                  duration_ms=12, response_body="no")
        attempted = webhook_deliveries.Attempted(claim, result, Decision("fail"))
        await webhook_deliveries.record_attempts(console.db, "test", [attempted], now=now)
        bad = await console.browser.post(f"/app/webhooks/{endpoint}/recover",
                                         data={"csrf_token": csrf_of(page), "since": "yesterday"})
        assert bad.status_code == 400
        assert 'aria-invalid="true" aria-describedby="since-hint since-error"' in bad.text
        assert re.search(r'<p class="error" id="since-error">invalid RFC3339 encoded datetime</p>', bad.text)
        since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # as the browser's field sends it
        done = await console.browser.post(f"/app/webhooks/{endpoint}/recover",
                                          data={"csrf_token": csrf_of(page), "since": since})
        assert done.status_code == 303 and done.headers["location"] == f"/app/webhooks/{endpoint}"
        shown = (await console.browser.get(f"/app/webhooks/{endpoint}")).text
        assert f"1 failed deliveries since {since}:00 UTC are queued again." in shown
        status = await console.db.fetchval("SELECT status FROM webhook_deliveries")
        assert status == "pending"
