"""What the campaign page changes besides its status: the "Edit" form (``POST /app/campaigns/<id>/edit``: name,
budget, dates, through ``PATCH /v1/campaigns/{id}``'s ``update_campaign``), "Link to Meta" (``GET`` and
``POST /app/campaigns/<id>/meta``: the connected Meta user's ad accounts, then ``POST /v1/meta/campaigns``'s
``link_to_meta``), and the listener link (``POST /app/campaigns/<id>/listen-link`` and ``.../revoke``, the
API's ``make_listen_link`` and ``drop_listen_link``).

The API has no route that unlinks a campaign from Meta, so neither has the console. Every form is a POST
(origin, CSRF and the member role checked); the API's refusal is shown next to the field it names, with
nothing changed; done, the browser goes back to the campaign page, which says what was done once.
"""

from __future__ import annotations

import re
import uuid

from quart import Blueprint, Response, render_template, request

from engine.store import campaigns as store
from engine.store.sessions import SessionCheck
from http_api.catalog.campaigns import update_campaign
from http_api.catalog.campaigns_schemas import CampaignPatch
from http_api.console.acting import acting_call, form_session, layout
from http_api.console.campaigns import campaign_page, edit_values
from http_api.console.guard import page_session
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import land_in_console
from http_api.providers.listeners import drop_listen_link, make_listen_link
from http_api.providers.meta import link_to_meta, meta_ad_accounts
from http_api.providers.meta_schemas import MetaCampaignCreate, Objective
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_campaign_edit_routes", "utc_minutes"]

_PAGE = "/app/campaigns/{}"
_MINUTES = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")  # what a datetime-local field sends
_OBJECTIVES: tuple[Objective, ...] = ("OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT",
                                      "OUTCOME_LEADS", "OUTCOME_SALES", "OUTCOME_APP_PROMOTION")


def add_campaign_edit_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post("/app/campaigns/<uuid:campaign_id>/edit")
    async def campaign_edit(campaign_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        current = await store.get_campaign(ctx.db(), session.organization_id, campaign_id)
        if current is None:
            return await not_found_page("campaign")
        form = await request.form
        given = {field: form.get(field, "").strip() for field in edit_values(current)}
        try:
            body = validate(_changes(given, edit_values(current)), CampaignPatch, strict=False)
            await update_campaign(acting_call(ctx, session), campaign_id, body)
        except ApiError as error:
            errors = {d.field: d.message for d in error.details} or {"form": error.message}
            return await campaign_page(ctx, session, campaign_id, edit=given, edit_errors=errors,
                                       status=error.status)
        return _back(ctx, campaign_id, "The campaign is saved.")

    @bp.get("/app/campaigns/<uuid:campaign_id>/meta")
    async def meta_link_page(campaign_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        return await _link_page(ctx, session, campaign_id)

    @bp.post("/app/campaigns/<uuid:campaign_id>/meta")
    async def meta_link(campaign_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        form = await request.form
        given = {field: form.get(field, "").strip() for field in ("adAccountId", "budget", "budgetType",
                                                                  "objective")}
        try:
            body = validate({**given, "campaignId": str(campaign_id)}, MetaCampaignCreate, strict=False)
            linked = await link_to_meta(acting_call(ctx, session), body)
        except ApiError as error:  # the page itself is a 404 page when the campaign is not the organization's
            errors = {d.field: d.message for d in error.details} or {"form": error.message}
            return await _link_page(ctx, session, campaign_id, given=given, errors=errors, status=error.status)
        return _back(ctx, campaign_id, f"Linked to the Meta campaign {linked.meta_campaign.id}, created paused.")

    _add_listen_link_routes(bp, ctx)


def _add_listen_link_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post("/app/campaigns/<uuid:campaign_id>/listen-link")
    async def listen_link(campaign_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        try:
            await make_listen_link(acting_call(ctx, session), campaign_id)
        except ApiError:  # the one refusal: no such campaign here
            return await not_found_page("campaign")
        return _back(ctx, campaign_id, "The listener link is ready to share.")

    @bp.post("/app/campaigns/<uuid:campaign_id>/listen-link/revoke")
    async def listen_link_revoke(campaign_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        try:
            await drop_listen_link(acting_call(ctx, session), campaign_id)
        except ApiError:  # no such campaign, or no link to revoke
            return await not_found_page("listener link")
        return _back(ctx, campaign_id, "The listener link is revoked: it no longer opens.")


def _changes(given: dict[str, str], shown: dict[str, str]) -> dict[str, str]:
    """The fields the person changed, as the PATCH body: a field left as the form showed it is not sent (the
    form shows dates to the minute; sending them back would move a date stored to the second). A
    datetime-local value is a UTC time, as the page says."""
    changed = {field: value for field, value in given.items() if value != shown[field]}
    for field in ("startDate", "endDate"):
        if field in changed:
            changed[field] = utc_minutes(changed[field])
    return changed


def utc_minutes(value: str) -> str:
    """A datetime-local field's value (``2027-03-01T09:30``) as the UTC time the page says it is; anything
    else as given, for the API to refuse with its own message."""
    return value + ":00Z" if _MINUTES.fullmatch(value) else value


def _back(ctx: ApiContext, campaign_id: uuid.UUID, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url, page=_PAGE.format(campaign_id))


async def _link_page(ctx: ApiContext, session: SessionCheck, campaign_id: uuid.UUID, *,
                     given: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                     status: int = 200) -> Response:
    """The "Link to Meta" form: the connected Meta user's ad accounts read from Meta, as ``GET
    /v1/meta/accounts`` reads them; when Meta cannot be read, its reason instead of the form."""
    campaign = await store.get_campaign(ctx.db(), session.organization_id, campaign_id)
    if campaign is None:
        return await not_found_page("campaign")
    accounts, unreadable = [], None
    if campaign.meta_campaign_id is None:
        try:
            accounts = await meta_ad_accounts(acting_call(ctx, session))
        except ApiError as error:
            unreadable = error.message
    form = given or {"adAccountId": "", "budget": f"{campaign.budget:.2f}", "budgetType": "lifetime",
                     "objective": "OUTCOME_AWARENESS"}
    html = await render_template("console/campaign_meta.html", **await layout(ctx, session), campaign=campaign,
                                 accounts=accounts, unreadable=unreadable, form=form, errors=errors or {},
                                 objectives=[(o, o) for o in _OBJECTIVES])
    return html_page(html, status)
