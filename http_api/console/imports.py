"""The console's imports pages: ``GET /app/imports`` lists the organization's imports with a form to upload a
Spotify for Artists or DistroKid report (a plain multipart form), ``GET /app/imports/<id>`` shows one import's
progress and the rows it left out (line, column, why).

The upload goes through ``POST /v1/imports``'s own ``start_import`` (the same parsing, the same 50 MB limit,
the same messages, shown next to the field they name); the rows are then written by a job, and while that
runs htmx reloads the import's status every second from ``GET /app/imports/<id>/status``.
"""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, render_template, request

from adapters.stream_reports.model import ReportKind
from engine.jobs import Jobs
from engine.store import tracks
from engine.store.sessions import SessionCheck
from http_api.analytics.imports import ImportBody, ImportForm, list_import_page, read_import, start_import
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.guard import page_session, signed_in
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.pagination import ListQuery
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown, land_in_console
from http_api.routing import Access, form_body
from http_api.validation import validate

__all__ = ["add_imports_routes"]

_PAGE = "/app/imports"
_POLL_S = 1  # how often a running import's status reloads itself
_STOP_POLLING = 286  # htmx's code for "stop polling": signed out, or no such import
_FIELDS = ("file", "kind", "trackId", "artist")  # the form's fields; the API's other messages go next to the file
_TRACKS_OFFERED = 200  # the newest tracks in the song-timeline select; older ones are named by the file name


def add_imports_routes(bp: Blueprint, ctx: ApiContext, jobs: Jobs) -> None:
    @bp.get(_PAGE)
    async def imports_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(html_page(await _list_page(ctx, session)))

    @bp.post(_PAGE)
    async def upload() -> Response:
        session = await form_session(ctx, Access.MEMBER)
        filenames: dict[str, str] = {}
        try:
            data = {k: v for k, v in (await form_body(filenames)).items() if k in _FIELDS and v not in ("", b"")}
            form = validate(data, ImportForm, strict=False, where="form")
            started = await start_import(acting_call(ctx, session), jobs, form, filenames.get("file", "upload"))
        except ApiError as err:
            errors = {(d.field if d.field in _FIELDS else "file"): d.message for d in err.details}
            page = await _list_page(ctx, session, errors=errors or {"file": err.message},
                                    form=dict((await request.form).items()))
            return html_page(page, err.status)
        said = "This file was imported before: here is that import." if started.duplicate else "The import has started."
        return land_in_console(said, public_url=ctx.public_url, page=f"{_PAGE}/{started.id}")

    @bp.get(f"{_PAGE}/<uuid:import_id>")
    async def import_page(import_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        found = await _import(ctx, session, import_id)
        if found is None:
            return await not_found_page("import")
        html = await render_template("console/import.html", **await layout(ctx, session), i=found, poll=_POLL_S,
                                     flash=request.cookies.get(FLASH_COOKIE))
        return flash_shown(html_page(html))

    @bp.get(f"{_PAGE}/<uuid:import_id>/status")
    async def status_part(import_id: uuid.UUID) -> Response:
        """The import's status and row errors alone, for the page's htmx polling while it runs."""
        session = await signed_in(ctx)
        found = None if session is None else await _import(ctx, session, import_id)
        if found is None:
            return html_page("", _STOP_POLLING)
        return html_page(await render_template("console/import_status.html", i=found, poll=_POLL_S))


async def _import(ctx: ApiContext, session: SessionCheck, import_id: uuid.UUID) -> ImportBody | None:
    try:
        return await read_import(acting_call(ctx, session), import_id)
    except ApiError as err:
        if err.status == 404:
            return None
        raise


async def _list_page(ctx: ApiContext, session: SessionCheck, *, errors: dict[str, str] | None = None,
                     form: dict[str, str] | None = None) -> str:
    listed = await list_import_page(acting_call(ctx, session), ListQuery())
    offered = await tracks.list_tracks(ctx.db(), session.organization_id, limit=_TRACKS_OFFERED)
    return await render_template(
        "console/imports.html", **await layout(ctx, session), imports=listed.imports, total=listed.pagination.total,
        kinds=list(ReportKind), tracks=offered.items, may_change=allowed(session, Access.MEMBER), errors=errors or {},
        form=form or {}, flash=request.cookies.get(FLASH_COOKIE))
