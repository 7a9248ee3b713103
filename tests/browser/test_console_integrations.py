"""The integrations and webhooks pages in Chromium, as the demo label's owner uses them: Meta connected
(the sandbox's demo) with its account actor's state; Spotify connected with a click through the Spotify
simulator's consent page, landing back on the page; a webhook endpoint whose refused URL is said next to
its field, whose secret shows once, and whose test event gets a real delivery attempt in its log.

The sandbox service allows no loopback receiver (``[webhooks] allow_subnets`` is empty), so the endpoint
is a public-looking name that never resolves (``.invalid``): the dispatcher really tries, and the log
shows the failed attempt with its error. Every page passes axe-core."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from songtrack.sandbox_demo import DEMO_EMAIL
from tests.browser.conftest import Service
from tests.browser.steps import fits_a_phone
from tests.helpers.browser import assert_accessible, screenshot

_ATTEMPT_WAIT_MS = 45_000  # the dispatcher's poll, then one attempt bounded by [webhooks] timeout (15 s)


@pytest.fixture
def signed_in(page: Page, service: Service) -> Page:
    page.goto("/login")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill((service.data_dir / "sandbox-demo-login").read_text().strip())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Demo Records", level=1)).to_be_visible()
    return page


def _actor_running(page: Page) -> None:
    """Reload until the Meta account's actor has published its state (the engine does so every few seconds)."""
    state = page.locator("#meta-title").locator("..").locator(".actor-state")
    deadline = time.monotonic() + 20
    while state.inner_text().startswith("Not running") and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    expect(state).not_to_have_text(re.compile("^Not running"))



def test_integrations_show_meta_and_connect_spotify_through_its_consent_page(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()
    meta = page.locator("section", has=page.get_by_role("heading", name="Meta", level=2))
    expect(meta.locator(".status")).to_contain_text("Connected")
    _actor_running(page)
    expect(meta).to_contain_text("Last success")
    expect(meta).to_contain_text("UTC")
    assert_accessible(page)

    page.get_by_role("button", name="Connect Spotify").click()  # our start, the simulator's consent, our callback
    expect(page.get_by_role("status").first).to_contain_text("Spotify is connected:")
    assert page.url.endswith("/app/integrations")
    spotify = page.locator("section", has=page.get_by_role("heading", name="Spotify", level=2))
    expect(spotify.locator(".status")).to_contain_text("Connected")
    expect(page.get_by_role("button", name="Reconnect Spotify")).to_be_visible()
    assert page.evaluate("document.cookie") == ""  # every cookie of ours is HttpOnly
    assert_accessible(page)
    screenshot(page, "integrations")
    fits_a_phone(page)


def test_a_webhook_shows_its_secret_once_and_its_test_delivery_attempt(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    assert_accessible(page)

    page.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    page.get_by_label("webhook.test").check()
    page.get_by_role("button", name="Add the endpoint").click()
    url = page.get_by_label("URL")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#url-error")).to_contain_text("127.0.0.1")
    assert_accessible(page)

    url.fill("https://hooks.songtrack-console-test.invalid/in")
    page.get_by_role("button", name="Add the endpoint").click()
    secret = page.locator("#secret")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    shown = secret.inner_text()
    page.get_by_role("button", name="Copy the secret").click()
    expect(page.get_by_role("button", name=re.compile("^(Copied|Select the text)"))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status").first).to_contain_text("A webhook.test event")
    assert shown not in page.content()  # the secret is not shown again
    log = page.locator("table.attempts").first
    expect(log).to_be_visible(timeout=_ATTEMPT_WAIT_MS)  # the page reloads itself until the first attempt
    expect(log.locator("tbody tr").first).to_contain_text("UTC")
    expect(page.locator(".delivery").first).to_contain_text("webhook.test")
    assert_accessible(page)
    screenshot(page, "webhooks")
    fits_a_phone(page)
