"""The console's audit log page in Chromium, on a freshly signed-up label: its owner adds a track and finds
the change, by them and through the form's route, then narrows the list to tracks. axe-core passes, and the
page fits a phone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.steps import fits_a_phone, nav, sign_up
from tests.helpers.browser import assert_accessible, screenshot


def test_the_owner_finds_their_change_in_the_audit_log(page: Page) -> None:
    email = sign_up(page, "Quiet Harbour Records")
    nav(page, "Tracks")
    page.get_by_label("Title", exact=True).fill("Low Tide")
    page.get_by_label("Artist", exact=True).fill("Mara")
    page.get_by_role("button", name="Add the track").click()
    expect(page.get_by_role("status")).to_contain_text("Low Tide by Mara is added.")
    nav(page, "Audit log")
    created = page.get_by_role("row").filter(has_text="track.created")
    expect(created).to_contain_text(email)
    expect(created).to_contain_text("POST /app/tracks")
    expect(page.get_by_role("row").filter(has_text="organization.created")).to_contain_text("POST /signup")
    page.get_by_label("Object type").fill("track")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="organization.created")).to_have_count(0)
    expect(created).to_contain_text('"Low Tide"')
    assert_accessible(page)
    screenshot(page, "audit")
    fits_a_phone(page)
