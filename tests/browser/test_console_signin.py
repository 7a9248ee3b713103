"""The console in Chromium, as the demo label's owner uses it: sign in with the login `make run` printed,
see the organization's overview, sign out. Every page passes axe-core (no serious or critical violation).
The service is a real `songtrack run` in sandbox mode (tests/browser/conftest.py)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from songtrack.sandbox_demo import DEMO_EMAIL
from tests.helpers.browser import assert_accessible, screenshot


def test_the_demo_owner_signs_in_sees_the_overview_and_signs_out(page: Page, demo_password: str) -> None:
    page.goto("/")
    assert page.url.endswith("/login")  # signed out: the root sends us to the sign-in form
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "login")

    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(demo_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Demo Records", level=1)).to_be_visible()
    assert page.url.endswith("/app")
    expect(page.get_by_role("heading", name="The last 30 days")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "overview")
    assert "accessToken" not in page.content() and page.evaluate("document.cookie") == ""  # HttpOnly, no token

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/app")
    assert "/login" in page.url  # the session ended with the sign-out


def test_a_wrong_password_is_shown_next_to_the_field(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    described = password.get_attribute("aria-describedby")
    assert described is not None
    expect(page.locator(f"#{described}")).not_to_be_empty()
    expect(page.get_by_label("Email")).to_have_value(DEMO_EMAIL)  # what was typed is kept
    assert_accessible(page)
