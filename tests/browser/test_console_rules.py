"""The console's rules pages in Chromium: the demo label's owner finds the demo rule (a dry run of
docs/rules.md's first example, made at the sandbox's first start), opens it, and switches it off and on.
axe-core finds nothing serious on either page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from songtrack.sandbox_demo import DEMO_RULE
from tests.browser.conftest import sign_in_as_demo
from tests.helpers.browser import assert_accessible, screenshot


def test_the_demo_owner_finds_the_demo_rule_opens_it_and_switches_it(page: Page, demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    page.get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", name="Rules", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=DEMO_RULE["name"])
    expect(row).to_contain_text("costPerIncrementalStream over 48 h greater_than 0.05")
    expect(row).to_contain_text("(dry run)")
    assert_accessible(page)
    screenshot(page, "rules")

    row.get_by_role("button", name=f"Disable {DEMO_RULE['name']}").click()
    expect(page.get_by_role("row").filter(has_text=DEMO_RULE["name"])).to_contain_text("inactive")
    page.get_by_role("row").filter(has_text=DEMO_RULE["name"]).get_by_role(
        "button", name=f"Enable {DEMO_RULE['name']}").click()
    expect(page.get_by_role("row").filter(has_text=DEMO_RULE["name"])).to_contain_text("active")

    page.get_by_role("link", name=DEMO_RULE["name"]).click()
    expect(page.get_by_role("heading", name=DEMO_RULE["name"], level=1)).to_be_visible()
    expect(page.get_by_text("24 h per campaign")).to_be_visible()
    assert_accessible(page)
