"""A label's first day, all in the console, in Chromium: sign up, verify the e-mail from the dev mailbox, connect
Meta and Spotify through the simulators' dialogs, add a track, create a campaign for it, link it to Meta and
launch it, watch live streams arrive on its page, pause it, download its PDF, and add a webhook endpoint that
gets a delivery in its attempt log. Nothing but the browser, except the streams: they come in through
``POST /v1/streaming/events`` with the owner's token, as any source's do.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.browser.steps import PASSWORD, mailed_path, nav, sign_up
from tests.helpers.browser import assert_accessible

_ATTEMPT_WAIT_MS = 45_000  # the dispatcher's poll, then one attempt bounded by [webhooks] timeout (15 s)
_STREAMS = 12


def _send_streams(page: Page, email: str, track_id: str) -> None:
    login = page.request.post("/v1/auth/login", data={"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['tokens']['accessToken']}"}
    # The sandbox runs on its simulated clock: the current bucket's start is "now" as the server sees it.
    realtime = page.request.get(f"/v1/streaming/realtime/{track_id}?interval=5m&buckets=1", headers=bearer)
    at = realtime.json()["data"][-1]["timestamp"]
    events = [{"id": f"journey-{uuid.uuid4()}", "trackId": track_id, "platform": "spotify", "country": "NZ",
               "timestamp": at} for _ in range(_STREAMS)]
    sent = page.request.post("/v1/streaming/events", headers=bearer, data={"events": events})
    assert sent.ok and sent.json()["accepted"] == _STREAMS, sent.text()


def test_a_new_label_goes_from_sign_up_to_a_launched_campaign_and_its_webhook(page: Page) -> None:
    email = sign_up(page, "Journey Records")
    page.goto(mailed_path(page, email, "/verify-email"))
    expect(page.get_by_role("heading", name="Email verified")).to_be_visible()

    page.goto("/app/integrations")
    page.get_by_role("button", name="Connect Meta").click()  # the Meta simulator's login dialog, and back
    expect(page.get_by_role("status").first).to_contain_text("Meta is connected:")
    page.get_by_role("button", name="Connect Spotify").click()  # the Spotify simulator's consent page, and back
    expect(page.get_by_role("status").first).to_contain_text("Spotify is connected:")

    nav(page, "Tracks")
    page.get_by_label("Title", exact=True).fill("First Light")
    page.get_by_label("Artist", exact=True).fill("The Journeymen")
    page.get_by_role("button", name="Add the track").click()
    expect(page.get_by_role("heading", name="First Light", level=1)).to_be_visible()

    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    assert_accessible(page)
    page.get_by_label("Name").fill("First Light launch")
    page.get_by_label("Track").select_option(label="First Light by The Journeymen")
    page.get_by_label("Budget").fill("400")
    page.get_by_label("Start (UTC)").fill(datetime.now(UTC).strftime("%Y-%m-%dT00:00"))
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("heading", name="First Light launch", level=1)).to_be_visible()
    expect(page.locator("#campaign-status")).to_have_text("draft")

    page.get_by_role("link", name="Link to Meta").click()
    page.get_by_role("button", name="Create the Meta campaign and link it").click()
    expect(page.locator("#meta-link")).to_contain_text("Linked to the Meta campaign")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#campaign-status")).to_have_text("active")

    live = page.locator("#live-streams")
    expect(live.locator('[data-live="state"]')).to_have_text("Live: connected.")
    track_id = re.findall(r"[0-9a-f-]{36}", live.get_attribute("data-live-tracks") or "")[0]
    _send_streams(page, email, track_id)
    expect(live.locator('[data-live="latest"]')).to_contain_text("NZ")
    expect(live.locator('[data-live="hour"]')).to_have_text(str(_STREAMS))

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#campaign-status")).to_have_text("paused")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")

    nav(page, "Webhooks")
    page.get_by_label("URL").fill("https://hooks.journey-records-test.invalid/in")
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.locator("#secret")).to_have_text(re.compile(r"^whsec_"))
    page.get_by_role("button", name="Send a test event").click()
    log = page.locator("table.attempts").first
    expect(log).to_be_visible(timeout=_ATTEMPT_WAIT_MS)  # the page reloads itself until the first attempt
    expect(page.locator(".delivery").first).to_contain_text("webhook.test")
