"""The console's rule editor in Chromium: the demo label's owner builds a dry-run rule of two conditions
(one comparing two figures) without writing JSON, sees the API's message next to the value it refused,
previews the rule over the demo campaign's past days, saves it, and edits it. axe-core finds nothing
serious on the editor."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in_as_demo
from tests.helpers.browser import assert_accessible, screenshot


def test_the_demo_owner_builds_previews_saves_and_edits_a_rule(page: Page, demo_password: str) -> None:
    name = f"Costly days {uuid.uuid4().hex[:6]}"  # one server for every browser test: a name of its own
    sign_in_as_demo(page, demo_password)
    page.goto("/app/rules")
    page.get_by_role("link", name="New rule").click()
    expect(page.get_by_role("heading", name="New rule", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    expect(page.get_by_label("Dry run: record what it would do, do nothing")).to_be_checked()
    page.locator("#c0_field").select_option("spend")
    page.locator("#c0_hours").fill("24")
    page.locator("#c0_operator").select_option("greater_than")
    page.locator("#c0_value").fill("a lot")
    page.get_by_role("button", name="Add a condition").click()
    page.locator("#c1_field").select_option("spend")
    page.locator("#c1_operator").select_option("gte")
    page.locator("#c1_kind").select_option("figure")
    page.locator("#c1_other_field").select_option("budget")
    page.locator("#c1_multiplier").fill("0.1")
    page.get_by_label("Conditions to hold").select_option("any")
    page.locator("#c1_multiplier").press("Enter")  # saves: Enter does not press "Remove condition 1"

    expect(page.locator("#c0_value-error")).to_contain_text("is not a number")
    expect(page.locator("#c0_value")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#c1_multiplier")).to_have_value("0.1")  # the rest as typed
    page.locator("#c0_value").fill("0.5")
    page.get_by_label("Past days").fill("30")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview:")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Nothing was saved or done")
    assert_accessible(page)
    screenshot(page, "rule-editor")

    page.get_by_role("button", name="Create the rule").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_text(f"{name} is created.")).to_be_visible()
    expect(page.get_by_text("any of: spend over 24 h greater_than 0.5; spend so far gte 0.1 * budget so far")
           ).to_be_visible()

    page.get_by_role("link", name="Edit the rule").click()
    expect(page.locator("#c1_multiplier")).to_have_value("0.1")
    page.get_by_role("button", name="Remove condition 2").click()
    expect(page.locator("#c1_field")).to_have_count(0)
    page.locator("#cooldown").fill("48")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"{name} is saved.")).to_be_visible()
    expect(page.get_by_text("48 h per campaign")).to_be_visible()
    expect(page.get_by_text("spend over 24 h greater_than 0.5", exact=True)).to_be_visible()
