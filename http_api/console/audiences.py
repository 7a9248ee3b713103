"""The console's audiences pages: ``GET /app/audiences`` lists them as ``GET /v1/audiences`` does (the same query,
limits and store call) with the form to create a custom audience (``POST /app/audiences``, ``POST
/v1/audiences``'s ``add_audience``); ``GET /app/audiences/<id>`` shows one, with the forms to build a lookalike of
it (``POST .../lookalike``, the API's ``add_lookalike``) and to push it to Meta (``POST .../meta``, ``POST
/v1/audiences/{id}/sync/meta``'s ``push_audience``, without a customer list: that is the API's).

A refusal is shown next to the field it names (a criterion's list item under its list), with nothing changed;
done, the browser goes to the audience's page, which says what was done once.
"""

from __future__ import annotations

import re
import uuid

from quart import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from engine.store import audiences as store
from engine.store.sessions import SessionCheck
from http_api.catalog.audiences import (
    AudienceCreate,
    AudienceQuery,
    LookalikeCreate,
    MetaSync,
    add_audience,
    add_lookalike,
    push_audience,
)
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.guard import page_session
from http_api.console.listing import list_query, page_links
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown, land_in_console
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_audiences_routes"]

_PAGE = "/app/audiences"
_CREATE_FIELDS = ("name", "description", "ageMin", "ageMax", "locations", "interests")
_LOOKALIKE_FIELDS = ("lookalikeName", "countries", "ratio")
_INDEX = re.compile(r"\[\d+\]")


def add_audiences_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def audiences_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(await _list_page(ctx, session))

    @bp.post(_PAGE)
    async def audience_create() -> Response:
        session = await form_session(ctx, Access.MEMBER)
        form = await request.form
        given, genders = _given(form, _CREATE_FIELDS), form.getlist("genders")
        try:
            audience = await add_audience(acting_call(ctx, session), validate(_new(given, genders), AudienceCreate,
                                                                              strict=False))
        except ApiError as error:
            return await _list_page(ctx, session, given={**given, "genders": genders}, errors=_errors(error),
                                    status=error.status)
        return _to_audience(ctx, audience.id, f"The audience {audience.name} is created.")

    @bp.get(f"{_PAGE}/<uuid:audience_id>")
    async def audience_page(audience_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        return flash_shown(await _audience_page(ctx, session, audience_id))

    _add_actions(bp, ctx)


def _add_actions(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post(f"{_PAGE}/<uuid:audience_id>/lookalike")
    async def lookalike_create(audience_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        given = _given(await request.form, _LOOKALIKE_FIELDS)
        body = {"name": given["lookalikeName"], "countries": _items(given["countries"].upper()),
                "ratio": given["ratio"]}
        try:
            made = await add_lookalike(acting_call(ctx, session), audience_id,
                                       validate(body, LookalikeCreate, strict=False))
        except ApiError as error:
            errors = {("lookalikeName" if k == "name" else k): v for k, v in _errors(error).items()}
            return await _audience_page(ctx, session, audience_id, lookalike=given, lookalike_errors=errors,
                                        status=error.status)
        return _to_audience(ctx, made.id, f"The lookalike {made.name} is created.")

    @bp.post(f"{_PAGE}/<uuid:audience_id>/meta")
    async def audience_push(audience_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        account = (await request.form).get("adAccountId", "").strip()
        try:
            body = validate({"adAccountId": account} if account else {}, MetaSync)
            pushed = await push_audience(acting_call(ctx, session), audience_id, body)
        except ApiError as error:  # Meta's refusals (not connected, failed) are about where it goes
            errors = {d.field: d.message for d in error.details if d.field == "adAccountId"} or {
                "adAccountId": error.message}
            return await _audience_page(ctx, session, audience_id, account=account, push_errors=errors,
                                        status=error.status)
        meta = pushed.audience.meta
        assert meta is not None  # pushed a moment ago
        size = (f" Meta estimates {pushed.approximate_count_lower_bound:,} to {pushed.approximate_count_upper_bound:,}"
                " people." if pushed.approximate_count_upper_bound else "")
        return _to_audience(ctx, audience_id, f"On Meta as {meta.audience_id} in {meta.ad_account_id}.{size}")


def _given(form: MultiDict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    return {field: form.get(field, "").strip() for field in fields}


def _items(text: str) -> list[str]:
    """A comma-separated list as typed ("US, GB"), empty items left out."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _new(given: dict[str, str], genders: list[str]) -> dict[str, object]:
    """The create form as ``POST /v1/audiences``'s body: an empty field is not sent, as a client leaves it out."""
    criteria: dict[str, object] = {"ageMin": given["ageMin"], "ageMax": given["ageMax"], "genders": genders,
                                   "locations": _items(given["locations"].upper()),
                                   "interests": _items(given["interests"])}
    body = {"name": given["name"], "description": given["description"],
            "criteria": {key: value for key, value in criteria.items() if value}}
    return {key: value for key, value in body.items() if value or key == "name"}


def _errors(error: ApiError) -> dict[str, str]:
    """The API's details by the form's field names: ``criteria.locations[2]`` under Locations, the ages' order
    (``criteria``) under the highest age; the first message of a field wins."""
    errors: dict[str, str] = {}
    for detail in error.details:
        field = _INDEX.sub("", detail.field).removeprefix("criteria.")
        errors.setdefault("ageMax" if field == "criteria" else field, detail.message)
    return errors or {"form": error.message}


def _to_audience(ctx: ApiContext, audience_id: uuid.UUID, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url, page=f"{_PAGE}/{audience_id}")


async def _list_page(ctx: ApiContext, session: SessionCheck, *, given: dict[str, object] | None = None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    query, asked, refused = list_query(AudienceQuery)
    page = await store.list_audiences(ctx.db(), session.organization_id, search=query.search_text(),
                                      limit=query.limit, offset=query.offset)
    html = await render_template(
        "console/audiences.html", **await layout(ctx, session), page=page, query=query, refused=refused,
        **page_links(_PAGE, asked, page), may_change=allowed(session, Access.MEMBER),
        form=given or {**dict.fromkeys(_CREATE_FIELDS, ""), "genders": []}, errors=errors or {},
        flash=request.cookies.get(FLASH_COOKIE))
    return html_page(html, 400 if refused and status == 200 else status)


async def _audience_page(ctx: ApiContext, session: SessionCheck, audience_id: uuid.UUID, *,
                         lookalike: dict[str, str] | None = None, lookalike_errors: dict[str, str] | None = None,
                         account: str = "", push_errors: dict[str, str] | None = None,
                         status: int = 200) -> Response:
    db, org_id = ctx.db(), session.organization_id
    audience = await store.get_audience(db, org_id, audience_id)
    if audience is None:
        return await not_found_page("audience")
    source = None if audience.source_audience_id is None else await store.get_audience(
        db, org_id, audience.source_audience_id)
    html = await render_template(
        "console/audience.html", **await layout(ctx, session), audience=audience, source=source,
        may_change=allowed(session, Access.MEMBER), flash=request.cookies.get(FLASH_COOKIE),
        lookalike=lookalike or {"lookalikeName": f"{audience.name} lookalike"[:200], "countries": "",
                                "ratio": "0.01"},
        lookalike_errors=lookalike_errors or {}, account=account, push_errors=push_errors or {})
    return html_page(html, status)
