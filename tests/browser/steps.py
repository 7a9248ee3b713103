"""What several browser tests do the way a person does it: sign up a new label, open the link of an e-mail
from the dev mailbox (the service runs in sandbox mode), use the navigation, check a page fits a phone."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

__all__ = ["PASSWORD", "fits_a_phone", "mailed_path", "nav", "sign_up"]

PASSWORD = "a long enough password"


def sign_up(page: Page, label: str, password: str = PASSWORD) -> str:
    """A new label and its owner, signed in through the sign-up form; returns the owner's email."""
    email = f"owner-{uuid.uuid4().hex[:8]}@label.example"
    page.goto("/signup")
    page.get_by_label("Organization name").fill(label)
    page.get_by_label("Your name").fill("Olu Owner")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name=label, level=1)).to_be_visible()
    return email


def mailed_path(page: Page, to: str, console_page: str) -> str:
    """The path and query of the newest e-mail's link to ``console_page``, read from the dev mailbox."""
    mailbox = page.request.get("/v1/dev/mailbox", params={"to": to, "limit": 1})
    assert mailbox.ok, mailbox.text()
    found = re.search(rf"https?://\S+?({console_page}\?token=\S+)", mailbox.json()["emails"][0]["body"])
    assert found is not None, mailbox.text()
    return found.group(1)


def nav(page: Page, name: str) -> None:
    """Follow the console's navigation to the page ``name``."""
    page.get_by_role("navigation", name="Console").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def fits_a_phone(page: Page) -> None:
    """Loaded 390 px wide, the page needs no sideways scrolling (wide tables scroll inside their own box)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
