"""The overview page: the organization's figures, its active campaigns with the budget used, the latest
alerts (all UTC), and what to do next when there is nothing yet."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.store.alerts import insert_notification
from tests.helpers.factories import create_campaign
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
