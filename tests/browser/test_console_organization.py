"""The console's organization and imports pages in Chromium, each on a freshly signed-up label (the demo
label stays as it is): its owner invites a member and sees the invitation, ends the session of a second
browser, which is signed out on its next page; an uploaded report with one bad row shows its progress
finish and the row's error. axe-core passes on every page."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Service
from tests.browser.steps import PASSWORD, sign_up
from tests.helpers.browser import assert_accessible, screenshot

AUDIENCE = b"date,listeners,streams,followers\n2026-03-01,120,300,4\n2026-03-02,many,310,4\n2026-03-03,130,320,5\n"



def test_invite_a_member_and_end_a_second_session(page: Page, browser: Browser, service: Service) -> None:
    email = sign_up(page, "Harbour Lights Records")
    other = browser.new_context(base_url=service.url)
    other.set_default_timeout(10_000)
    try:
        second = other.new_page()
        second.goto("/login")
        second.get_by_label("Email").fill(email)
        second.get_by_label("Password").fill(PASSWORD)
        second.get_by_role("button", name="Sign in").click()
        expect(second.get_by_role("heading", name="Harbour Lights Records", level=1)).to_be_visible()

        page.get_by_role("link", name="Organization").click()
        expect(page.get_by_role("heading", name="Organization", level=1)).to_be_visible()
        invitee = f"guest-{uuid.uuid4().hex[:8]}@label.example"
        page.get_by_label("Email").fill(invitee)
        page.get_by_label("Role", exact=True).select_option("viewer")
        page.get_by_role("button", name="Send the invitation").click()
        expect(page.get_by_role("status")).to_contain_text(f"An invitation to join as viewer is sent to {invitee}.")
        invited = page.get_by_role("row").filter(has_text=invitee)
        expect(invited).to_contain_text("pending")
        expect(invited.get_by_role("button", name=f"Revoke the invitation of {invitee}")).to_be_visible()
        assert_accessible(page)
        screenshot(page, "organization")

        sessions = page.locator("section[aria-labelledby=sessions] tbody tr")
        expect(sessions).to_have_count(2)
        sessions.filter(has_not_text="(this browser)").get_by_role("button", name="End").click()
        expect(page.get_by_role("status")).to_contain_text("The session is ended")
        expect(sessions).to_have_count(1)
        second.goto("/app/organization")
        expect(second.get_by_role("button", name="Sign in")).to_be_visible()
        assert "/login" in second.url

        page.get_by_role("link", name="The engine's status").click()
        expect(page.get_by_role("heading", name="Engine status", level=1)).to_be_visible()
        expect(page.get_by_role("heading", name="Actors by kind and state")).to_be_visible()
        assert_accessible(page)
    finally:
        other.close()


def test_upload_a_report_with_a_bad_row(page: Page) -> None:
    sign_up(page, "Tidepool Audio")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("File (CSV or TSV, at most 50 MB)").set_input_files(
        {"name": "audience.csv", "mimeType": "text/csv", "buffer": AUDIENCE})
    page.get_by_label("Artist (for an audience timeline)").fill("Zoé Marchand")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Import of audience.csv")).to_be_visible()
    expect(page.locator("#import-status")).to_contain_text("Status: succeeded")  # polled until it ends
    expect(page.locator("#import-status")).to_contain_text("2 imported, 1 left out")
    expect(page.get_by_role("progressbar", name="Import progress")).to_have_attribute("value", "1.0")
    bad = page.get_by_role("row").filter(has_text="listeners")
    expect(bad.get_by_role("rowheader")).to_have_text("3")
    assert_accessible(page)

    page.get_by_role("link", name="All imports").click()
    expect(page.get_by_role("link", name="audience.csv")).to_be_visible()
    screenshot(page, "imports")
