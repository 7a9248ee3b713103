"""The console's integrations page: ``GET /app/integrations`` shows each provider's connected account, its
actor's state and the latest sync; its buttons start the OAuth login (``POST .../connect``) and a sync
(``POST .../sync``) through the same functions as ``GET /v1/auth/{provider}/connect`` and
``POST /v1/integrations/{provider}/sync``. The outcome of a button, or of a login the console started,
shows once at the top of the page (``http_api.providers.console_landing``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quart import Blueprint, Response, render_template, request

from engine.jobs import Jobs
from engine.store import integrations as store
from engine.store.sessions import SessionCheck
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.guard import page_session, signed_in
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import (
    FLASH_COOKIE,
    LANDING_PAGE,
    flash_shown,
    land_in_console,
    mark_console_start,
)
from http_api.providers.integrations import STATE_TTL, begin_connect
from http_api.providers.pollers import IntegrationOut, integrations_with_pollers
from http_api.providers.sync_runs import SyncRunOut, latest_sync_run, start_sync_run
from http_api.routing import Access

__all__ = ["ProviderView", "add_integrations_routes"]

_NAMES: dict[store.Provider, str] = {"meta": "Meta", "spotify": "Spotify"}
_POLL_S = 2  # how often a running sync's line reloads itself
_STOP_POLLING = 286  # htmx's code for "stop polling": signed out, or no such provider


@dataclass(frozen=True)
class ProviderView:
    """One provider as the page shows it: configured on this server or not, its account, its latest sync."""

    provider: store.Provider
    name: str
    configured: bool
    account: IntegrationOut | None
    sync: SyncRunOut | None


def add_integrations_routes(bp: Blueprint, ctx: ApiContext, jobs: Jobs) -> None:
    @bp.get(LANDING_PAGE)
    async def integrations_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(html_page(await _render(ctx, session)))

    @bp.get(f"{LANDING_PAGE}/<provider>/sync-status")
    async def sync_status_part(provider: str) -> Response:
        """A provider's sync line alone, for the page's htmx polling while the sync runs."""
        session = await signed_in(ctx)
        name = next((p for p in _NAMES if p == provider), None)
        if session is None or name is None:
            return html_page("", _STOP_POLLING)
        view = await _view(ctx, session.organization_id, name, None)
        return html_page(await render_template("console/sync_status.html", p=view, poll=_POLL_S))

    @bp.post(f"{LANDING_PAGE}/<provider>/connect")
    async def connect(provider: str) -> Response:
        async def act(session: SessionCheck, name: store.Provider) -> Response:
            try:
                location, state = await begin_connect(ctx, name, session.organization_id, session.user_id)
            except ApiError as err:
                return _back(ctx, f"{_NAMES[name]} cannot be connected: {err.message}.")
            response = redirect_to(location)
            mark_console_start(response, state, max_age=int(STATE_TTL.total_seconds()), public_url=ctx.public_url)
            return response
        return await _on_provider(ctx, provider, act)

    @bp.post(f"{LANDING_PAGE}/<provider>/sync")
    async def sync(provider: str) -> Response:
        async def act(session: SessionCheck, name: store.Provider) -> Response:
            try:
                await start_sync_run(acting_call(ctx, session), jobs, name)
            except ApiError as err:
                return _back(ctx, f"The {_NAMES[name]} sync did not start: {err.message}.")
            return _back(ctx, f"The {_NAMES[name]} sync has started.")
        return await _on_provider(ctx, provider, act)


async def _on_provider(ctx: ApiContext, provider: str,
                       act: Callable[[SessionCheck, store.Provider], Awaitable[Response]]) -> Response:
    """``act`` for the signed-in member on the provider the path names (a 404 page for another name)."""
    session = await form_session(ctx, Access.MEMBER)
    name = next((p for p in _NAMES if p == provider), None)
    return await not_found_page("provider") if name is None else await act(session, name)


def _back(ctx: ApiContext, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url)


async def _render(ctx: ApiContext, session: SessionCheck) -> str:
    db, org_id = ctx.db(), session.organization_id
    rows = await store.list_integrations(db, org_id)
    by_provider = {out.provider: out for out in await integrations_with_pollers(db, rows)}
    views = [await _view(ctx, org_id, p, by_provider.get(p)) for p in _NAMES]
    return await render_template(
        "console/integrations.html", **await layout(ctx, session), providers=views,
        flash=request.cookies.get(FLASH_COOKIE), poll=_POLL_S,
        may_change=allowed(session, Access.MEMBER))


async def _view(ctx: ApiContext, org_id: uuid.UUID, provider: store.Provider,
                account: IntegrationOut | None) -> ProviderView:
    sync = await latest_sync_run(ctx.db(), org_id, provider)
    return ProviderView(provider, _NAMES[provider], _configured(ctx, provider), account, sync)


def _configured(ctx: ApiContext, provider: store.Provider) -> bool:
    settings = ctx.settings
    return (settings.meta.app_id if provider == "meta" else settings.spotify.client_id) is not None
