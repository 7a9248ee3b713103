"""The console's webhooks pages: ``GET /app/webhooks`` lists the organization's endpoints with a form to
create one; ``GET /app/webhooks/<id>`` shows one endpoint's latest deliveries, each with its attempt log,
and the buttons to send a test event, resend a delivery and rotate the secret.

Every button is a form POST (origin and CSRF checked, the admin role as the API asks) that goes through
the same functions as ``/v1/webhooks`` (``http_api.webhooks.webhooks``): the same URL and SSRF checks, the
same messages, shown next to the field they name. A new secret (create, rotate) is in that one answer's
page and nowhere else; the page is never cached. Another organization's endpoint is a 404 page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from quart import Blueprint, Response, render_template, request

from engine.store import webhooks as store
from engine.store.sessions import SessionCheck
from engine.webhooks.events import EVENT_TYPES
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.cookies import csrf_token
from http_api.console.guard import page_session, signed_in
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown, land_in_console
from http_api.routing import Access
from http_api.validation import validate
from http_api.webhooks.webhooks import (
    RecoverBody,
    WebhookCreate,
    create_endpoint,
    recover_deliveries,
    resend_event,
    rotate_endpoint_secret,
    send_test_event,
)

__all__ = ["add_webhooks_routes"]

_PAGE = "/app/webhooks"
_DELIVERIES_SHOWN = 10
_POLL_S = 2  # how often an endpoint's deliveries reload while an attempt is due soon
_SOON = timedelta(seconds=10)
_STOP_POLLING = 286  # htmx's code for "stop polling": signed out, or the endpoint is gone
_RECOVER_FROM = timedelta(days=1)  # the recover form's default "since"
_MINUTES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # a datetime-local field's value, without seconds


def add_webhooks_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def webhooks_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(html_page(await _list_page(ctx, session)))

    @bp.post(_PAGE)
    async def create() -> Response:
        session = await form_session(ctx, Access.ADMIN)
        form = await request.form
        data = {"url": form.get("url", "").strip(), "events": form.getlist("events")}
        try:
            created = await create_endpoint(acting_call(ctx, session), validate(data, WebhookCreate))
        except ApiError as err:
            errors = {d.field: d.message for d in err.details} or {"url": err.message}
            return html_page(await _list_page(ctx, session, form=data, errors=errors), 400)
        row = await store.get_endpoint(ctx.db(), session.organization_id, created.id)
        assert row is not None  # we made it a moment ago, in this organization
        return html_page(await _endpoint_page(ctx, session, row, secret=created.secret, new=True), 201)

    @bp.get(f"{_PAGE}/<uuid:webhook_id>")
    async def endpoint_page(webhook_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        row = await store.get_endpoint(ctx.db(), session.organization_id, webhook_id)
        if row is None:
            return await not_found_page("webhook endpoint")
        return flash_shown(html_page(await _endpoint_page(ctx, session, row)))

    @bp.get(f"{_PAGE}/<uuid:webhook_id>/deliveries")
    async def deliveries_part(webhook_id: uuid.UUID) -> Response:
        """The deliveries section alone, for the endpoint page's htmx polling."""
        session = await signed_in(ctx)
        row = None if session is None else await store.get_endpoint(ctx.db(), session.organization_id, webhook_id)
        if session is None or row is None:
            return html_page("", _STOP_POLLING)
        html = await render_template("console/webhook_deliveries.html", **await _deliveries(ctx, session, row),
                                     csrf_token=csrf_token(ctx.keys, session.session_id),
                                     may_change=allowed(session, Access.ADMIN))
        return html_page(html)

    _add_actions(bp, ctx)


def _add_actions(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.post(f"{_PAGE}/<uuid:webhook_id>/test")
    async def test(webhook_id: uuid.UUID) -> Response:
        async def act(session: SessionCheck) -> Response:
            queued = await send_test_event(acting_call(ctx, session), webhook_id)
            return _back(ctx, webhook_id, f"A webhook.test event ({queued.event_id}) is queued for delivery.")
        return await _on_endpoint(ctx, act)

    @bp.post(f"{_PAGE}/<uuid:webhook_id>/events/<string:event_id>/resend")
    async def resend(webhook_id: uuid.UUID, event_id: str) -> Response:
        async def act(session: SessionCheck) -> Response:
            await resend_event(acting_call(ctx, session), webhook_id, event_id)
            return _back(ctx, webhook_id, f"Event {event_id} is queued for delivery again.")
        return await _on_endpoint(ctx, act)

    @bp.post(f"{_PAGE}/<uuid:webhook_id>/rotate-secret")
    async def rotate(webhook_id: uuid.UUID) -> Response:
        async def act(session: SessionCheck) -> Response:
            rotated = await rotate_endpoint_secret(acting_call(ctx, session), webhook_id)
            row = await store.get_endpoint(ctx.db(), session.organization_id, webhook_id)
            assert row is not None  # rotated a moment ago, in this organization
            return html_page(await _endpoint_page(ctx, session, row, secret=rotated.secret))
        return await _on_endpoint(ctx, act)

    @bp.post(f"{_PAGE}/<uuid:webhook_id>/recover")
    async def recover(webhook_id: uuid.UUID) -> Response:
        async def act(session: SessionCheck) -> Response:
            since = (await request.form).get("since", "").strip()
            since += ":00" if _MINUTES.fullmatch(since) else ""  # the browser's field leaves out the seconds
            try:
                body = validate({"since": since}, RecoverBody)
            except ApiError as err:
                row = await store.get_endpoint(ctx.db(), session.organization_id, webhook_id)
                if row is None:
                    return await not_found_page("webhook endpoint")
                errors = {d.field: d.message for d in err.details}
                return html_page(await _endpoint_page(ctx, session, row, errors=errors, since=since), 400)
            recovered = await recover_deliveries(acting_call(ctx, session), webhook_id, body)
            said = f"{recovered.recovered} failed deliveries since {since} UTC are queued again."
            return _back(ctx, webhook_id, said)
        return await _on_endpoint(ctx, act)


async def _on_endpoint(ctx: ApiContext, act: Callable[[SessionCheck], Awaitable[Response]]) -> Response:
    """``act`` for the signed-in admin; a 404 page when the endpoint or event is not the organization's."""
    session = await form_session(ctx, Access.ADMIN)
    try:
        return await act(session)
    except ApiError as err:
        if err.status == 404:
            return await not_found_page("webhook endpoint or event")
        raise


def _back(ctx: ApiContext, webhook_id: uuid.UUID, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url, page=f"{_PAGE}/{webhook_id}")


async def _common(ctx: ApiContext, session: SessionCheck) -> dict[str, object]:
    return {**await layout(ctx, session), "may_change": allowed(session, Access.ADMIN),
            "flash": request.cookies.get(FLASH_COOKIE)}


async def _list_page(ctx: ApiContext, session: SessionCheck, *, form: dict[str, object] | None = None,
                     errors: dict[str, str] | None = None) -> str:
    endpoints = await store.list_endpoints(ctx.db(), session.organization_id)
    return await render_template("console/webhooks.html", **await _common(ctx, session), endpoints=endpoints,
                                 event_types=EVENT_TYPES, form=form or {"url": "", "events": []},
                                 errors=errors or {})


async def _endpoint_page(ctx: ApiContext, session: SessionCheck, row: store.Endpoint, *, secret: str | None = None,
                         new: bool = False, errors: dict[str, str] | None = None, since: str | None = None) -> str:
    default_since = datetime.fromtimestamp(ctx.now(), UTC) - _RECOVER_FROM
    return await render_template("console/webhook.html", **await _common(ctx, session),
                                 **await _deliveries(ctx, session, row), secret=secret, new=new, errors=errors or {},
                                 since=since or default_since.strftime("%Y-%m-%dT%H:%M"))


async def _deliveries(ctx: ApiContext, session: SessionCheck, row: store.Endpoint) -> dict[str, object]:
    db, org_id = ctx.db(), session.organization_id
    deliveries = await store.recent_deliveries(db, org_id, row.id, limit=_DELIVERIES_SHOWN)
    attempts = {d.event_id: await store.attempts_for_event(db, org_id, row.id, d.event_id) or [] for d in deliveries}
    # Poll while an attempt is due soon (a new event, a resend, a quick retry), not through a long backoff.
    soon = datetime.fromtimestamp(ctx.now(), UTC) + _SOON
    waiting = any(d.status == "pending" and d.next_attempt_at <= soon for d in deliveries)
    return {"endpoint": row, "deliveries": deliveries, "attempts": attempts, "poll": _POLL_S if waiting else None}
