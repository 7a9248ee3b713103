"""The console's privacy buttons in Chromium, on a freshly signed-up label: its owner downloads their data and
the organization's, is told to delete the organization rather than their account (they are its only member),
is refused a misspelt name, then deletes the organization and lands on the sign-in page. axe-core passes on
each deletion page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.steps import PASSWORD, sign_up
from tests.helpers.browser import assert_accessible, screenshot


def test_download_then_delete_the_organization(page: Page) -> None:
    sign_up(page, "Lantern Bay Records")
    page.get_by_role("link", name="Organization").click()
    with page.expect_download() as mine:
        page.get_by_role("button", name="Download my data").click()
    assert mine.value.suggested_filename.startswith("songtrack-my-data-")
    with page.expect_download() as theirs:
        page.get_by_role("button", name="Download the organization's data").click()
    assert theirs.value.suggested_filename.endswith(".zip")

    page.get_by_role("link", name="Delete my account").click()
    assert_accessible(page)
    page.get_by_label("Your current password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account for good").click()
    expect(page.locator("#password-error")).to_contain_text("delete the organization instead")

    page.goto("/app/organization")
    page.get_by_role("link", name="Delete the organization").click()
    page.get_by_label("The organization's name, to confirm").fill("Lantern Bay")
    page.get_by_role("button", name="Delete the organization and all its data").click()
    expect(page.locator("#confirm-error")).to_contain_text("must be the organization's name")
    assert_accessible(page)
    screenshot(page, "privacy")
    page.get_by_label("The organization's name, to confirm").fill("Lantern Bay Records")
    page.get_by_role("button", name="Delete the organization and all its data").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
