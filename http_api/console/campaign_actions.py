"""What the campaign page does: its lifecycle buttons (``POST /app/campaigns/<id>/launch|pause|archive``),
through the very code of the API's action routes (``http_api.catalog.campaigns.change_status``: pushed to Meta
first, the launch checks and the guardrail), and its downloads (``GET /app/campaigns/<id>/export.csv|xlsx|pdf``),
the same files as the API's exports (``engine.exports``), made at once for the signed-in browser.

A refused action (409 at the guardrail, a status that does not allow it, Meta's error, a viewer's click) is
shown next to the buttons with nothing changed; a done one redirects (303) back to the campaign page.
"""

from __future__ import annotations

import uuid
from typing import cast

import trio
from quart import Blueprint, Response

from engine.analytics.campaign import PeriodError, campaign_analytics
from engine.campaign_status import Action
from engine.exports import CONTENT_TYPES, ExportFormat, render
from engine.store.sessions import SessionCheck
from http_api.analytics.analytics import analytics_rules
from http_api.analytics.exports import export_filename
from http_api.catalog.campaigns import change_status
from http_api.console.acting import acting_call, allowed, form_session
from http_api.console.campaigns import campaign_page
from http_api.console.guard import page_session
from http_api.console.missing import not_found_page
from http_api.console.responses import redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.responses import attachment
from http_api.routing import Access, Call

__all__ = ["add_campaign_action_routes"]


def add_campaign_action_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post("/app/campaigns/<uuid:campaign_id>/<any(launch, pause, archive):action>")
    async def campaign_action(campaign_id: uuid.UUID, action: str) -> Response:
        here = f"/app/campaigns/{campaign_id}"
        session = await form_session(ctx, Access.VIEWER)  # a viewer's click is refused next to the buttons
        try:
            await change_status(_call(ctx, session), campaign_id, cast(Action, action))
        except ApiError as error:
            if error.status == 404:
                return await not_found_page("campaign")
            return await campaign_page(ctx, session, campaign_id, problem=error)
        return redirect_to(here)

    @bp.get("/app/campaigns/<uuid:campaign_id>/export.<any(csv, xlsx, pdf):fmt>")
    async def campaign_export(campaign_id: uuid.UUID, fmt: str) -> Response:
        session = await page_session(ctx)
        try:
            report = await campaign_analytics(ctx.db(), session.organization_id, campaign_id, start=None, end=None,
                                              granularity="day", rules=analytics_rules(ctx), now=ctx.domain_now())
        except PeriodError:
            report = None
        if report is None:
            return await not_found_page("campaign")
        content = await trio.to_thread.run_sync(render, report, cast(ExportFormat, fmt))
        name = export_filename(report.campaign_name, report.period.start, report.period.end, fmt)
        return attachment(content, CONTENT_TYPES[fmt], name)


def _call(ctx: ApiContext, session: SessionCheck) -> Call:
    """The member's click as the API call it stands for; a viewer is refused as the API refuses one (the
    page shows it next to the buttons)."""
    if not allowed(session, Access.MEMBER):
        raise ApiError(403, "AUTHORIZATION_ERROR", f"this needs the member role or higher; you are {session.role}")
    return acting_call(ctx, session)
