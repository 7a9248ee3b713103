"""The console's "New campaign" page: ``GET /app/campaigns/new`` shows the form (name, track, budget, currency,
objective, dates, description) and ``POST /app/campaigns/new`` creates the draft through ``POST /v1/campaigns``'s
own ``add_campaign``: the same validation, its message next to the field it names (400 or 404 for a track
that is not the organization's), nothing created. Done, the browser goes to the new campaign's page. Goals,
targeting and creatives stay the API's (``PATCH /v1/campaigns/{id}``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import get_args

from quart import Blueprint, Response, render_template, request

from engine.store import tracks
from engine.store.sessions import SessionCheck
from http_api.catalog.campaigns import add_campaign
from http_api.catalog.campaigns_schemas import CampaignCreate, Objective
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.campaign_edit import utc_minutes
from http_api.console.guard import page_session
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import land_in_console
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_campaign_new_routes"]

_PAGE = "/app/campaigns/new"
_FIELDS = ("name", "trackId", "budget", "currency", "objective", "startDate", "endDate", "description")
_TRACKS_OFFERED = 200  # the newest; an older track is picked through the API
_OBJECTIVES: tuple[str, ...] = get_args(get_args(Objective)[0])


def add_campaign_new_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def campaign_new_page() -> Response:
        session = await page_session(ctx)
        return await _form_page(ctx, session, _defaults(ctx))

    @bp.post(_PAGE)
    async def campaign_create() -> Response:
        session = await form_session(ctx, Access.MEMBER)
        form = await request.form
        given = {field: form.get(field, "").strip() for field in _FIELDS}
        body = {field: value for field, value in given.items() if value}  # an empty optional field is left out
        for field in ("startDate", "endDate"):
            if field in body:
                body[field] = utc_minutes(body[field])
        try:
            created = await add_campaign(acting_call(ctx, session), validate(body, CampaignCreate, strict=False))
        except ApiError as error:
            errors = {d.field: d.message for d in error.details} or {"form": error.message}
            return await _form_page(ctx, session, given, errors, error.status)
        return land_in_console(f"{created.name} is created as a draft: link it to Meta, then launch it.",
                               public_url=ctx.public_url, page=f"/app/campaigns/{created.id}")


def _defaults(ctx: ApiContext) -> dict[str, str]:
    """Two weeks from the next UTC midnight, in US dollars, for streams."""
    start = datetime.combine(ctx.domain_now().date() + timedelta(days=1), time(), UTC)
    return {**dict.fromkeys(_FIELDS, ""), "currency": "USD", "objective": "streams",
            "startDate": start.strftime("%Y-%m-%dT%H:%M"),
            "endDate": (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")}


async def _form_page(ctx: ApiContext, session: SessionCheck, given: dict[str, str],
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    offered = await tracks.list_tracks(ctx.db(), session.organization_id, limit=_TRACKS_OFFERED)
    html = await render_template("console/campaign_new.html", **await layout(ctx, session), form=given,
                                 errors=errors or {}, objectives=[(o, o) for o in _OBJECTIVES],
                                 tracks=[(str(t.id), f"{t.title} by {t.artist}") for t in offered.items],
                                 fields=_FIELDS, may_change=allowed(session, Access.MEMBER))
    return html_page(html, status)
