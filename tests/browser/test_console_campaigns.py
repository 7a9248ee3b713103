"""The campaign pages in Chromium, as the demo label's owner uses them: open Campaigns, open the "Demo
campaign", see its chart drawn and its figures in the table, download its PDF, pause or resume it. Both pages
pass axe-core. The service is a real `songtrack run` in sandbox mode (tests/browser/conftest.py)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in_as_demo
from tests.helpers.browser import assert_accessible, drawn_pixels, screenshot

_DEMO_CAMPAIGN = "Demo campaign"  # the sandbox's (songtrack.sandbox_demo)



def test_the_demo_owner_opens_the_demo_campaign_downloads_its_pdf_and_pauses_it(page: Page,
                                                                                 demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name=_DEMO_CAMPAIGN).first.click()
    expect(page.get_by_role("heading", name=_DEMO_CAMPAIGN, level=1)).to_be_visible()
    expect(page.locator("#campaign-chart canvas")).to_be_visible()
    assert drawn_pixels(page, "#campaign-chart canvas") > 1000
    assert page.locator("#per-day-table tbody tr").count() >= 1
    page.get_by_text("The figures per day (table)").click()
    expect(page.locator("#per-day-table")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "campaign")

    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    path = download.value.path()
    assert path.read_bytes().startswith(b"%PDF") and download.value.suggested_filename.endswith(".pdf")

    status = page.locator("#campaign-status")
    if status.inner_text() == "active":
        page.get_by_role("button", name="Pause").click()
        expect(status).to_have_text("paused")
        page.get_by_role("button", name="Resume").click()  # as the other tests found it
        expect(page.locator("#campaign-status:text('active'), #action-problem")).to_be_visible()
    else:  # the guardrail paused it: resuming is refused with the reason, or it runs again
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#campaign-status:text('active'), #action-problem")).to_be_visible()
