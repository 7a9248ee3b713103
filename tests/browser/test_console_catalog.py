"""The catalog pages in Chromium, each test as a label that has just signed up (editing the demo campaign's
budget would move its guardrail under the other tests): edit a campaign's budget and see it, make its
listener link and copy it, connect Meta and link the campaign to a new Meta campaign; add a track, connect
Spotify and file a track from the Spotify simulator; create an audience and a lookalike of it. Every new
page passes axe-core and fits 390 px."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from adapters.spotify.simulator.catalog import Catalog
from adapters.spotify.simulator.config import SimulatorConfig
from config import load
from tests.browser.steps import PASSWORD, fits_a_phone, nav, sign_up
from tests.helpers.browser import assert_accessible, screenshot


def test_a_campaigns_budget_is_edited_its_listener_link_made_and_it_is_linked_to_meta(page: Page) -> None:
    email = sign_up(page, "Edit Lane Records")
    # Made through the API, as a label's client would (the journey test uses the "New campaign" form).
    login = page.request.post("/v1/auth/login", data={"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['tokens']['accessToken']}"}
    created = page.request.post("/v1/campaigns", headers=bearer, data={
        "name": "Edit Lane push", "budget": 500, "currency": "USD", "startDate": "2031-03-01T00:00:00Z",
        "endDate": "2031-04-01T00:00:00Z"})
    assert created.status == 201, created.text()
    page.goto(f"/app/campaigns/{created.json()['id']}")

    page.get_by_text("Edit the name, budget and dates").click()
    page.get_by_label("End (UTC)").fill("2031-02-01T00:00")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_label("End (UTC)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#endDate-error")).to_contain_text("must be after startDate")
    assert_accessible(page)
    page.get_by_label("End (UTC)").fill("2031-04-01T00:00")
    page.get_by_label("Budget (USD)").fill("1234.50")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_role("status")).to_have_text("The campaign is saved.")
    expect(page.locator(".figures").first).to_contain_text("1,234.50 USD")

    page.get_by_role("button", name="Create the listener link").click()
    expect(page.locator("#listen-url")).to_have_text(re.compile(r"/v1/listen/[A-Za-z0-9_-]+$"))
    page.get_by_role("button", name="Copy the link").click()
    expect(page.get_by_role("button", name=re.compile("^(Copied|Select the text)"))).to_be_visible()
    assert_accessible(page)

    campaign_page = page.url
    page.goto("/app/integrations")
    page.get_by_role("button", name="Connect Meta").click()  # through the Meta simulator's login dialog
    expect(page.get_by_role("status").first).to_contain_text("Meta is connected:")
    page.goto(campaign_page)
    page.get_by_role("link", name="Link to Meta").click()
    expect(page.get_by_role("heading", name="Link to Meta", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Create the Meta campaign and link it").click()
    expect(page.locator("#meta-link")).to_contain_text("Linked to the Meta campaign")
    fits_a_phone(page)


def test_tracks_are_added_and_filed_from_spotify(page: Page) -> None:
    sign_up(page, "Track Lane Records")
    nav(page, "Tracks")
    assert_accessible(page)
    page.get_by_label("Title", exact=True).fill("Paper Moons")
    page.get_by_label("Artist", exact=True).fill("The Lanterns")
    page.get_by_label("ISRC (optional)").fill("not-an-isrc")
    page.get_by_role("button", name="Add the track").click()
    expect(page.get_by_label("ISRC (optional)")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("ISRC (optional)").fill("")
    page.get_by_role("button", name="Add the track").click()
    expect(page.get_by_role("heading", name="Paper Moons", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("is added.")
    assert_accessible(page)

    page.goto("/app/integrations")
    page.get_by_role("button", name="Connect Spotify").click()  # through the Spotify simulator's consent
    expect(page.get_by_role("status").first).to_contain_text("Spotify is connected:")
    nav(page, "Tracks")
    spotify_id = Catalog(SimulatorConfig(seed=load({}).simulators.seed)).campaign_track_ids[0]
    page.get_by_label("Spotify URI or link").fill(f"spotify:track:{spotify_id}")
    page.get_by_role("button", name="File it from Spotify").click()
    expect(page.get_by_role("status")).to_contain_text("is added from Spotify.")
    expect(page.locator("#spotify-id")).to_have_text(spotify_id)
    nav(page, "Tracks")
    expect(page.locator("tbody tr")).to_have_count(2)
    screenshot(page, "tracks")
    fits_a_phone(page)


def test_an_audience_and_its_lookalike_are_created(page: Page) -> None:
    sign_up(page, "Audience Lane Records")
    nav(page, "Audiences")
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Night listeners")
    page.get_by_label("Youngest age (13 to 65)").fill("18")
    page.get_by_label("Oldest age (13 to 65)").fill("34")
    page.get_by_label("female").check()
    page.get_by_label("Countries").fill("US, GB")
    page.get_by_label("Interests").fill("indie pop, vinyl")
    page.get_by_role("button", name="Create the audience").click()
    expect(page.get_by_role("heading", name="Night listeners", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("is created.")
    assert_accessible(page)

    page.get_by_label("Countries").fill("US")
    page.get_by_label("Ratio").fill("0.5")
    page.get_by_role("button", name="Create the lookalike").click()
    expect(page.get_by_label("Ratio")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Ratio").fill("0.05")
    page.get_by_role("button", name="Create the lookalike").click()
    expect(page.locator("#audience-type")).to_have_text("lookalike")
    expect(page.get_by_role("link", name="Night listeners")).to_be_visible()
    nav(page, "Audiences")
    expect(page.locator("tbody tr")).to_have_count(2)
    screenshot(page, "audiences")
    fits_a_phone(page)
