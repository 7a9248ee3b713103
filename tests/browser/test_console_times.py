"""Times in the reader's timezone: the console writes them in UTC (what a page without scripts shows) and the
browser rewrites them in its own timezone, naming it. A reader in Auckland sees the demo campaign's dates
and the rules' history in New Zealand time (GMT+13 in December, GMT+12 in winter), with the UTC time as
the tooltip."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Service, sign_in_as_demo


def test_times_are_shown_in_the_readers_timezone(browser: Browser, service: Service, demo_password: str) -> None:
    context = browser.new_context(base_url=service.url, timezone_id="Pacific/Auckland", locale="en-NZ")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in_as_demo(page, demo_password)
        page.goto("/app/campaigns?search=Demo+campaign")
        page.get_by_role("link", name="Demo campaign").first.click()
        start = page.locator("dd time").first
        expect(start).to_have_text(re.compile(r"GMT\+1[23]|NZ[DS]T"))
        assert start.get_attribute("title", timeout=1000).endswith(" UTC")  # type: ignore[union-attr]
        assert page.locator("time[data-local]").count() == 0  # every time on the page was rewritten
    finally:
        context.close()
