"""The campaign page's edits: the name, budget and dates through ``PATCH /v1/campaigns/{id}``'s code (the
API's refusals next to their fields, nothing changed), "Link to Meta" against the Meta simulator through
``POST /v1/meta/campaigns``'s code, and the listener link with its copy button. A viewer sees none of the
forms and is refused when posting them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import trio

from adapters.meta.simulator import SimulatorConfig as MetaConfig
from engine.store import campaigns
from tests.helpers.factories import connect_integration, create_campaign, create_org
from tests.http_api.console.conftest import Console, csrf_of, sign_in_as_member

_START = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)


async def _campaign(console: Console) -> campaigns.Campaign:
    campaign_id = await create_campaign(console.db, console.org.id, name="Spring push", budget=300.0, start=_START)
    found = await campaigns.get_campaign(console.db, console.org.id, campaign_id)
    assert found is not None
    return found


async def _post(console: Console, path: str, **fields: str) -> tuple[int, str]:
    """Open the campaign page and post its form at ``path`` (below the page's) with ``fields``."""
    page = (await console.browser.get("/".join(path.split("/")[:4]))).text
    answer = await console.browser.post(path, data={"csrf_token": csrf_of(page), **fields})
    return answer.status_code, answer.text


async def test_the_edit_form_changes_the_budget_and_dates_as_the_api_does(console: Console) -> None:
    with trio.fail_after(20):
        campaign = await _campaign(console)
        await console.sign_in()
        here = f"/app/campaigns/{campaign.id}"
        page = (await console.browser.get(here)).text
        assert 'value="300.00"' in page and 'value="2031-03-01T09:30"' in page and "Save the changes" in page
        status, _ = await _post(console, f"{here}/edit", name="Spring push", budget="450",
                                startDate="2031-03-01T09:30", endDate="2031-04-15T18:00")
        assert status == 303
        saved = await campaigns.get_campaign(console.db, console.org.id, campaign.id)
        assert saved is not None and saved.budget == 450.0 and saved.start_date == _START
        assert saved.end_date == datetime(2031, 4, 15, 18, tzinfo=UTC)
        after = (await console.browser.get(here)).text
        assert "The campaign is saved." in after and "450.00 USD" in after
        assert "by hand" in after and "budget 300.00 → budget 450.00" in after  # the rules' history, as the API's


async def test_a_refused_edit_is_said_next_to_its_field_and_changes_nothing(console: Console) -> None:
    with trio.fail_after(20):
        campaign = await _campaign(console)
        await console.sign_in()
        path = f"/app/campaigns/{campaign.id}/edit"
        status, page = await _post(console, path, name="Spring push", budget="300.00",
                                   startDate="2031-03-01T09:30", endDate="2031-02-01T00:00")
        assert status == 400
        assert re.search(r'id="endDate"[^>]*aria-invalid="true" aria-describedby="endDate-error"', page)
        error = re.search(r'<p class="error" id="endDate-error">([^<]+)</p>', page)
        assert error is not None and "must be after startDate" in error.group(1)
        assert 'value="2031-02-01T00:00"' in page and "<details open>" in page  # what was typed, shown again
        status, page = await _post(console, path, name=" ", budget="-5", startDate="2031-03-01T09:30",
                                   endDate="2031-03-31T09:30")
        assert status == 400 and 'id="name-error"' in page and 'id="budget-error"' in page
        unchanged = await campaigns.get_campaign(console.db, console.org.id, campaign.id)
        assert unchanged == campaign


async def test_the_listener_link_is_made_shown_with_a_copy_button_and_revoked(console: Console) -> None:
    with trio.fail_after(20):
        campaign = await _campaign(console)
        await console.sign_in()
        here = f"/app/campaigns/{campaign.id}"
        assert "None yet" in (await console.browser.get(here)).text
        status, _ = await _post(console, f"{here}/listen-link")
        assert status == 303
        page = (await console.browser.get(here)).text
        url = re.search(r'<code id="listen-url">(http://[^<]+/v1/listen/[A-Za-z0-9_-]+)</code>', page)
        assert url is not None and 'data-copy="listen-url"' in page and "copy.js" in page
        assert "The listener link is ready to share." in page
        status, _ = await _post(console, f"{here}/listen-link/revoke")
        assert status == 303 and url.group(1) not in (await console.browser.get(here)).text
        assert await console.db.fetchval("SELECT count(*) FROM campaign_listen_links") == 0


async def test_link_to_meta_creates_the_meta_campaign_through_the_api(provider_console: Console) -> None:
    console = provider_console
    with trio.fail_after(30):
        campaign = await _campaign(console)
        await console.sign_in()
        here = f"/app/campaigns/{campaign.id}"
        unreadable = (await console.browser.get(f"{here}/meta")).text
        assert "Meta's ad accounts cannot be read" in unreadable and "/app/integrations" in unreadable
        await connect_integration(console.db, console.org.id, provider="meta",
                                  access_token=MetaConfig().access_tokens[0], key=console.ctx.keys.token_encryption_key)
        assert f'href="{here}/meta">Link to Meta' in (await console.browser.get(here)).text
        form = (await console.browser.get(f"{here}/meta")).text
        account = re.search(r'<option value="(act_[0-9]+)"', form)
        assert account is not None
        data = {"csrf_token": csrf_of(form), "adAccountId": account.group(1), "budgetType": "lifetime",
                "objective": "OUTCOME_AWARENESS"}
        refused = await console.browser.post(f"{here}/meta", data={**data, "budget": "0"})
        assert refused.status_code == 400 and 'id="budget-error"' in refused.text
        linked = await console.browser.post(f"{here}/meta", data={**data, "budget": "300.00"})
        assert linked.status_code == 303, linked.text
        saved = await campaigns.get_campaign(console.db, console.org.id, campaign.id)
        assert saved is not None and saved.meta_campaign_id is not None and saved.meta_ad_account_id == account.group(1)
        page = (await console.browser.get(here)).text
        assert f"Linked to the Meta campaign {saved.meta_campaign_id}" in page and ">Link to Meta<" not in page


async def test_a_viewer_sees_no_forms_and_is_refused(console: Console) -> None:
    with trio.fail_after(20):
        campaign = await _campaign(console)
        await sign_in_as_member(console, "viewer")
        here = f"/app/campaigns/{campaign.id}"
        page = (await console.browser.get(here)).text
        assert "Save the changes" not in page and "Link to Meta" not in page and "Create the listener link" not in page
        for path in ("edit", "meta", "listen-link"):
            refused = await console.browser.post(f"{here}/{path}", data={
                "csrf_token": csrf_of(page), "budget": "1", "name": "x", "startDate": "", "endDate": ""})
            assert refused.status_code == 403 and "role" in refused.text
        assert await campaigns.get_campaign(console.db, console.org.id, campaign.id) == campaign


async def test_another_organizations_campaign_is_not_found(console: Console) -> None:
    with trio.fail_after(20):
        other = await create_campaign(console.db, await create_org(console.db), name="Theirs")
        await console.sign_in()
        token = csrf_of((await console.browser.get("/app")).text)
        for path in ("edit", "meta", "listen-link"):
            answer = await console.browser.post(f"/app/campaigns/{other}/{path}", data={"csrf_token": token})
            assert answer.status_code == 404, path
        assert (await console.browser.get(f"/app/campaigns/{other}/meta")).status_code == 404
