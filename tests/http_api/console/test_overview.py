"""The overview page: the organization's figures, its active campaigns with the budget used, the latest
alerts (all UTC), and what to do next when there is nothing yet."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from engine.messages import MetricSample
from engine.store import facts, imports
from engine.store.alerts import insert_notification
from tests.helpers.factories import create_campaign, create_track
from tests.http_api.console.conftest import Console


async def test_an_empty_organization_is_told_what_to_do_next(console: Console) -> None:
    await console.sign_in()
    page = (await console.browser.get("/app")).text
    assert "No active campaign" in page and "No alerts yet" in page and "No figures yet" in page
    assert '<html lang="en">' in page and 'href="#main"' in page


async def test_the_overview_shows_active_campaigns_their_budget_and_the_latest_alerts(console: Console) -> None:
    await create_campaign(console.db, console.org.id, name="Night Drive push", budget=250.0, status="active")
    await create_campaign(console.db, console.org.id, name="Draft idea")
    await console.db.execute("UPDATE campaigns SET budget_spent = 62.50 WHERE name = 'Night Drive push'")
    await insert_notification(console.db, console.org.id, type="budget.warning",
                              title="Night Drive push has spent 25% of its budget", data={},
                              created_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    await console.sign_in()
    page = (await console.browser.get("/app")).text
    assert "Night Drive push" in page and "Draft idea" not in page
    assert "250.00 USD" in page and "62.50 USD" in page and "25%" in page
    assert "Night Drive push has spent 25% of its budget" in page and "2026-03-01 09:30 UTC" in page
    assert "Streams" in page and "(UTC days)" in page


async def _finished_campaign(console: Console, first: date, last: date, *, baseline: int | None,
                             during: int) -> None:
    """A campaign of a new track over ``first``..``last`` (UTC days) that spent $10.00 a day; its track had
    ``baseline`` streams a day for the 28 days before (None: no data) and ``during`` a day during it."""
    org = console.org.id
    track = await create_track(console.db, org, title=f"t{uuid.uuid4().hex[:6]}")
    days = (last - first).days + 1
    rows = [] if baseline is None else [imports.TrackDay(track_id=track, day=first - timedelta(days=n),
                                                         streams=baseline) for n in range(1, 29)]
    rows += [imports.TrackDay(track_id=track, day=first + timedelta(days=n), streams=during) for n in range(days)]
    await imports.upsert_track_days(console.db, org, None, "s4a", rows)
    campaign = await create_campaign(console.db, org, track_id=track, start=datetime.combine(first, time(), UTC),
                                     end=datetime.combine(last, time(23, 59), UTC), status="completed")
    await facts.upsert_samples(console.db, [MetricSample(
        organization_id=org, campaign_id=campaign, day=first + timedelta(days=n), metric="spend_minor", value=1000,
        source="meta:1", observed_at=datetime.now(UTC), currency="USD") for n in range(days)])


async def test_the_overview_shows_incremental_streams_their_cost_and_the_campaigns_left_out(
        console: Console) -> None:
    today = console.ctx.domain_now().astimezone(UTC).date()
    # Six whole days before today: 6 x (150 - 100) = 300 incremental streams for $60.00.
    await _finished_campaign(console, today - timedelta(days=6), today - timedelta(days=1), baseline=100, during=150)
    await _finished_campaign(console, today - timedelta(days=6), today - timedelta(days=1), baseline=None, during=90)
    await console.sign_in()
    page = " ".join((await console.browser.get("/app")).text.split())
    assert '<dt>Incremental streams</dt><dd>300 <span class="change">+300</span>' in page
    assert '<dt>Cost per incremental stream (USD)</dt> <dd>0.2000' in page
    assert "1 campaign without a baseline left out." in page
