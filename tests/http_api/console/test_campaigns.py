"""The campaign pages: the list (filter, search, sort, paging as ``GET /v1/campaigns``), the campaign page
(figures, attribution, history), its lifecycle buttons (POST with the CSRF token, refusals shown with
nothing changed) and its downloads. Another organization's campaign is a 404 page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from engine.store import campaigns
from tests.helpers.factories import create_campaign, create_owner, create_track
from tests.http_api.console.conftest import Console, csrf_of

_NOW = datetime.now(UTC).replace(microsecond=0)


async def _running(console: Console, *, status: str, name: str = "Night Drive push", budget: float = 200.0,
                   spent: float = 0.0) -> uuid.UUID:
    """A campaign of the console's organization with a track, from yesterday to 30 days on."""
    track = await create_track(console.db, console.org.id, title="Night Drive", artist="The Moons")
    campaign_id = await create_campaign(console.db, console.org.id, name=name, budget=budget, status=status,
                                        track_id=track, start=_NOW - timedelta(days=1))
    await console.db.execute("UPDATE campaigns SET budget_spent = $2 WHERE id = $1", campaign_id, spent)
    return campaign_id


async def _status(console: Console, campaign_id: uuid.UUID) -> str:
    found = await campaigns.get_campaign(console.db, console.org.id, campaign_id)
    assert found is not None
    return found.status


async def test_the_list_filters_searches_sorts_and_pages(console: Console) -> None:
    for name, status in (("Alpha", "active"), ("Beta", None), ("Alphabet", "paused")):
        await create_campaign(console.db, console.org.id, name=name, status=status)
    await console.sign_in()
    active = (await console.browser.get("/app/campaigns", params={"status": "active"})).text
    assert ">Alpha</a>" in active and "Beta" not in active and "Alphabet" not in active
    found = (await console.browser.get("/app/campaigns", params={"search": "ALPHA", "status": ""})).text
    assert ">Alpha</a>" in found and ">Alphabet</a>" in found and ">Beta</a>" not in found
    first = (await console.browser.get("/app/campaigns?sort=name&order=asc&limit=1")).text
    assert ">Alpha</a>" in first and ">Alphabet</a>" not in first and "1 to 1 of 3" in first
    assert 'href="/app/campaigns?sort=name&amp;order=asc&amp;limit=1&amp;offset=1"' in first
    second = (await console.browser.get("/app/campaigns?sort=name&order=asc&limit=1&offset=1")).text
    assert ">Alphabet</a>" in second and 'rel="prev"' in second
    none = (await console.browser.get("/app/campaigns", params={"search": "zzz"})).text
    assert "No campaign matches" in none


async def test_a_bad_query_is_named_and_the_empty_list_says_what_to_do(console: Console) -> None:
    await console.sign_in()
    empty = await console.browser.get("/app/campaigns")
    assert empty.status_code == 200 and "No campaign yet" in empty.text
    bad = await console.browser.get("/app/campaigns", params={"limit": "500"})
    assert bad.status_code == 400 and "limit:" in bad.text


async def test_the_campaign_page_shows_its_figures_attribution_and_history(console: Console) -> None:
    campaign_id = await _running(console, status="active", spent=50.0)
    await console.sign_in()
    page = await console.browser.get(f"/app/campaigns/{campaign_id}")
    assert page.status_code == 200
    text = page.text
    assert "Night Drive push" in text and "200.00 USD" in text and "50.00 USD" in text and "25%" in text
    assert "Night Drive by The Moons" in text and "<dt>Dates</dt>" in text and " UTC</time>" in text
    assert 'id="campaign-chart-data"' in text and '"days":[' in text and "Confidence" in text
    assert "Nothing yet" in text and ">Pause</button>" in text and "export.pdf" in text

    await console.browser.post(f"/app/campaigns/{campaign_id}/pause", data={"csrf_token": csrf_of(text)})
    after = (await console.browser.get(f"/app/campaigns/{campaign_id}")).text
    assert "by hand" in after and "status active → status paused" in after and ">Resume</button>" in after


async def test_pause_and_resume_go_through_the_lifecycle_with_the_csrf_token(console: Console) -> None:
    campaign_id = await _running(console, status="active")
    await console.sign_in()
    token = csrf_of((await console.browser.get(f"/app/campaigns/{campaign_id}")).text)
    paused = await console.browser.post(f"/app/campaigns/{campaign_id}/pause", data={"csrf_token": token})
    assert paused.status_code == 303 and paused.headers["Location"] == f"/app/campaigns/{campaign_id}"
    assert await _status(console, campaign_id) == "paused"
    resumed = await console.browser.post(f"/app/campaigns/{campaign_id}/launch", data={"csrf_token": token})
    assert resumed.status_code == 303 and await _status(console, campaign_id) == "active"


async def test_a_missing_token_is_refused_and_changes_nothing(console: Console) -> None:
    campaign_id = await _running(console, status="active")
    await console.sign_in()
    refused = await console.browser.post(f"/app/campaigns/{campaign_id}/pause", data={},
                                         headers={"X-Request-ID": "quote-this-refusal"})
    assert refused.status_code == 403 and "Nothing was changed" in refused.text
    assert "<code>quote-this-refusal</code>" in refused.text  # to quote when asking for help
    assert await _status(console, campaign_id) == "active"


async def test_a_launch_refused_at_the_guardrail_shows_why_next_to_the_buttons(console: Console) -> None:
    campaign_id = await _running(console, status="paused", budget=100.0, spent=100.0)
    await console.sign_in()
    token = csrf_of((await console.browser.get(f"/app/campaigns/{campaign_id}")).text)
    refused = await console.browser.post(f"/app/campaigns/{campaign_id}/launch", data={"csrf_token": token})
    assert refused.status_code == 409
    assert 'id="action-problem"' in refused.text and "at its guardrail" in refused.text
    assert await _status(console, campaign_id) == "paused"


async def test_another_organizations_campaign_is_not_found(console: Console) -> None:
    other, _ = await create_owner(console.db)
    theirs = await create_campaign(console.db, other.id, name="Their secret", status="active")
    await console.sign_in()
    page = await console.browser.get(f"/app/campaigns/{theirs}")
    assert page.status_code == 404 and "Their secret" not in page.text and "no such campaign" in page.text
    assert f"<code>{page.headers['X-Request-ID']}</code>" in page.text
    token = csrf_of((await console.browser.get("/app")).text)  # a valid token of our own session
    pause = await console.browser.post(f"/app/campaigns/{theirs}/pause", data={"csrf_token": token})
    assert pause.status_code == 404
    assert (await console.browser.get(f"/app/campaigns/{theirs}/export.csv")).status_code == 404
    found = await campaigns.get_campaign(console.db, other.id, theirs)
    assert found is not None and found.status == "active"


async def test_the_exports_download_as_files(console: Console) -> None:
    campaign_id = await _running(console, status="active")
    await console.sign_in()
    expected = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "pdf": "application/pdf"}
    for fmt, content_type in expected.items():
        answer = await console.browser.get(f"/app/campaigns/{campaign_id}/export.{fmt}")
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(content_type)
        assert answer.headers["Content-Disposition"].startswith('attachment; filename="Night-Drive-push_')
    pdf = await console.browser.get(f"/app/campaigns/{campaign_id}/export.pdf")
    assert pdf.content.startswith(b"%PDF")
