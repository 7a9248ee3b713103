"""The console's account pages in Chromium: a new label signs up and lands on its overview; its owner forgets
the password, opens the reset link from the dev mailbox (the service runs in sandbox mode), sets a new one
and signs in with it; an invitation's link shows the organization and role. axe-core passes on every page."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.steps import mailed_path
from tests.helpers.browser import assert_accessible, screenshot

PASSWORD, NEW_PASSWORD = "first long password", "second long password"



def test_a_new_label_signs_up_then_resets_its_password_and_signs_in_with_it(page: Page) -> None:
    email = f"owner-{uuid.uuid4().hex[:8]}@nightowl.example"
    page.goto("/login")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "signup")
    page.get_by_label("Organization name").fill("Night Owl Music")
    page.get_by_label("Your name").fill("Noor Founder")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name="Night Owl Music", level=1)).to_be_visible()
    assert page.url.endswith("/app")

    page.goto(mailed_path(page, email, "/verify-email"))
    expect(page.get_by_role("heading", name="Email verified")).to_be_visible()
    assert_accessible(page)
    page.goto("/app")
    page.get_by_role("button", name="Sign out").click()

    page.get_by_role("link", name="Forgot your password?").click()
    assert_accessible(page)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_accessible(page)

    page.goto(mailed_path(page, email, "/reset-password"))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    assert "token" not in page.url and "token=" not in page.content()
    assert_accessible(page)

    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Night Owl Music", level=1)).to_be_visible()


def test_an_invitation_link_shows_the_organization_and_role(page: Page) -> None:
    email = f"owner-{uuid.uuid4().hex[:8]}@label.example"
    registered = page.request.post("/v1/auth/register", data={
        "email": email, "password": PASSWORD, "name": "Ines Owner", "organizationName": "Inviting Records"})
    assert registered.ok, registered.text()
    bearer = {"Authorization": f"Bearer {registered.json()['tokens']['accessToken']}"}
    invitee = f"guest-{uuid.uuid4().hex[:8]}@label.example"
    invited = page.request.post("/v1/organization/invitations", data={"email": invitee, "role": "member"},
                                headers=bearer)
    assert invited.ok, invited.text()
    page.goto(mailed_path(page, invitee, "/accept-invitation"))
    expect(page.get_by_role("heading", name="Join Inviting Records")).to_be_visible()
    expect(page.get_by_text("as member")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Your name").fill("Gus Guest")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accept and sign in").click()
    expect(page.get_by_role("heading", name="Inviting Records", level=1)).to_be_visible()
