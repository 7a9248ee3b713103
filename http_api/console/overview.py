"""The console's front door and overview: ``GET /`` sends people to sign in or to ``/app``; ``GET /app``
shows the organization's figures for the last 30 days (the engine's ``overview``, as
``GET /v1/analytics/overview`` answers), its active campaigns with the budget they have used, and the
latest alerts, and the live streams of its tracks (static/live.js; the newest 100, what one connection may
watch). It reads; it changes
nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from quart import Blueprint, Response, render_template

from engine.analytics.overview import overview
from engine.store import campaigns, tracks
from engine.store.alerts import list_notifications
from engine.store.database import Database
from engine.store.sessions import SessionCheck
from http_api.analytics.analytics import analytics_rules, overview_period
from http_api.console.acting import layout
from http_api.console.guard import page_session, signed_in
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.live.ws import MAX_SUBSCRIPTIONS

__all__ = ["CampaignBudget", "add_overview_routes"]

_CAMPAIGNS_SHOWN, _ALERTS_SHOWN = 20, 5


@dataclass(frozen=True)
class CampaignBudget:
    """An active campaign as the overview lists it: how much of its budget it has used."""

    id: uuid.UUID
    name: str
    status: str
    budget: float
    budget_spent: float
    currency: str

    @property
    def percent(self) -> int:
        return round(self.budget_spent * 100 / self.budget) if self.budget > 0 else 0


def add_overview_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/")
    async def front_door() -> Response:
        return redirect_to("/app" if await signed_in(ctx) is not None else "/login")

    @bp.get("/app")
    async def overview_page() -> Response:
        session = await page_session(ctx)
        return html_page(await _render(ctx, session))


async def _render(ctx: ApiContext, session: SessionCheck) -> str:
    db, org_id = ctx.db(), session.organization_id
    now = ctx.domain_now()
    figures = await overview(db, org_id, overview_period(now.date()), rule=analytics_rules(ctx).rule(), now=now)
    active, total = await _active_campaigns(db, org_id)
    alerts = (await list_notifications(db, org_id, limit=_ALERTS_SHOWN)).items
    return await render_template(
        "console/overview.html", **await layout(ctx, session),
        figures=figures, campaigns=active, more_campaigns=total - len(active), alerts=alerts,
        live_tracks=[str(track.id) for track in (await tracks.list_tracks(db, org_id, limit=MAX_SUBSCRIPTIONS)).items])


async def _active_campaigns(db: Database, org_id: uuid.UUID) -> tuple[list[CampaignBudget], int]:
    found = await campaigns.list_campaigns(db, org_id, status="active", limit=_CAMPAIGNS_SHOWN)
    active = [CampaignBudget(c.id, c.name, c.status, c.budget, c.budget_spent, c.currency) for c in found.items]
    return active, found.total

