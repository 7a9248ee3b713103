"""The console's "New campaign" form: a draft created through ``POST /v1/campaigns``'s own code, the API's
refusals next to their fields with nothing created, and a viewer refused."""

from __future__ import annotations

import trio

from engine.store import campaigns
from tests.helpers.factories import create_org, create_track
from tests.http_api.console.conftest import Console, csrf_of, sign_in_as_member

_FORM = {"name": "Summer single", "budget": "750", "currency": "EUR", "objective": "traffic",
         "startDate": "2031-06-01T00:00", "endDate": "2031-06-30T12:00", "description": ""}


async def _post(console: Console, **fields: str) -> tuple[int, str, str | None]:
    page = (await console.browser.get("/app/campaigns/new")).text
    answer = await console.browser.post("/app/campaigns/new", data={"csrf_token": csrf_of(page), **fields})
    return answer.status_code, answer.text, answer.headers.get("Location")


async def test_a_member_creates_a_draft_for_a_track_and_lands_on_its_page(console: Console) -> None:
    with trio.fail_after(20):
        track = await create_track(console.db, console.org.id, title="Heatwave", artist="The Band")
        await console.sign_in()
        listing = (await console.browser.get("/app/campaigns")).text
        assert 'href="/app/campaigns/new"' in listing
        form = (await console.browser.get("/app/campaigns/new")).text
        assert "Heatwave by The Band" in form and 'value="USD"' in form
        status, _, location = await _post(console, **_FORM, trackId=str(track))
        assert status == 303 and location is not None
        found = await campaigns.list_campaigns(console.db, console.org.id, search="Summer single")
        [created] = found.items
        assert location.endswith(f"/app/campaigns/{created.id}")
        assert (created.status, created.budget, created.currency) == ("draft", 750.0, "EUR")
        assert created.track is not None and created.track.id == track
        assert created.start_date.isoformat() == "2031-06-01T00:00:00+00:00"  # the form's times are UTC
        page = (await console.browser.get(location)).text
        assert "is created as a draft" in page


async def test_a_refused_draft_is_said_next_to_its_field_and_nothing_is_created(console: Console) -> None:
    with trio.fail_after(20):
        other = await create_org(console.db, "Another label")
        foreign = await create_track(console.db, other)
        await console.sign_in()
        status, page, _ = await _post(console, **{**_FORM, "endDate": "2031-05-01T00:00"})
        assert status == 400 and 'id="endDate-error"' in page and 'aria-invalid="true"' in page
        assert 'value="Summer single"' in page  # what was typed stays
        status, page, _ = await _post(console, **{**_FORM, "currency": "euro"})
        assert status == 400 and 'id="currency-error"' in page
        status, page, _ = await _post(console, **_FORM, trackId=str(foreign))  # another label's track
        assert status == 404 and 'id="trackId-error"' in page
        assert (await campaigns.list_campaigns(console.db, console.org.id)).total == 0


async def test_a_viewer_gets_no_form_and_is_refused(console: Console) -> None:
    with trio.fail_after(20):
        await sign_in_as_member(console, "viewer")
        assert 'href="/app/campaigns/new"' not in (await console.browser.get("/app/campaigns")).text
        page = (await console.browser.get("/app/campaigns/new")).text
        assert "you are a viewer" in page and "Create the draft" not in page
        status, _, _ = await _post(console, **_FORM)
        assert status == 403
        assert (await campaigns.list_campaigns(console.db, console.org.id)).total == 0
