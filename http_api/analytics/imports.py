"""`/v1/imports`: uploading a stream report (Spotify for Artists CSV, DistroKid TSV) for the caller's
organization, and following its progress.

The upload is parsed and recorded before we answer, so a file we cannot use is a 400 that names the
problem; its rows are then written by a job of the API process (``adapters.stream_reports.importer`` does
both, for ``songtrack import`` too). Formats: docs/imports.md.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType
from quart import Response
from quart_trio.wrappers import TrioRequest

from adapters.stream_reports.importer import ImportRejected, load, prepare
from adapters.stream_reports.model import ReportKind
from engine.jobs import Jobs
from engine.store import imports as store
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.pagination import ListQuery, Pagination
from http_api.responses import json_response
from http_api.routing import Access, Call, Router

__all__ = [
    "MAX_UPLOAD_BYTES", "UPLOAD_PATHS", "ImportBody", "ImportForm", "UploadRequest", "import_body",
    "imports_router", "list_import_page", "read_import", "start_import",
]  # fmt: skip

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# The API's upload route and the console's upload form (http_api.console.imports).
UPLOAD_PATHS = ("/v1/imports", "/app/imports")
STALE_AFTER = timedelta(minutes=2)  # a running import's heartbeat beats every chunk, in well under this


class UploadRequest(TrioRequest):
    """Quart's request, allowed a bigger body on the upload route only (the app's limit is 1 MB)."""

    def __init__(self, method: str, scheme: str, path: str, *args: object, **kwargs: object) -> None:
        upload = method == "POST" and path.rstrip("/") in UPLOAD_PATHS
        if upload:
            kwargs["max_content_length"] = MAX_UPLOAD_BYTES  # the body's own limit, checked as it arrives
        super().__init__(method, scheme, path, *args, **kwargs)  # type: ignore[arg-type]
        if upload:
            self.max_content_length = MAX_UPLOAD_BYTES  # and the form parser's


class ImportForm(msgspec.Struct, kw_only=True, rename="camel"):
    """The upload: the file, and what its rows belong to when the file does not say."""

    file: Annotated[bytes, Meta(description="The report: CSV (Spotify for Artists) or TSV (DistroKid), UTF-8"
                                            " with or without a BOM, or ISO-8859-1; at most 50 MB")]
    kind: ReportKind | UnsetType = UNSET  # default: told by the header row
    track_id: uuid.UUID | UnsetType = UNSET  # a per-song timeline's track (default: the file name's title)
    artist: str | UnsetType = UNSET  # an audience timeline's artist (required for one)


class RowErrorOut(msgspec.Struct, frozen=True, kw_only=True):
    line: int
    column: str | None
    message: str


class ImportBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An import and its progress. ``errors`` names each row left out (line, column, why), the first
    1,000 of ``failedRows``; the good rows are imported whatever the bad ones."""

    id: uuid.UUID
    filename: str
    kind: str
    encoding: str
    status: str
    track_id: uuid.UUID | None
    artist: str | None
    total_rows: int
    done_rows: int
    imported_rows: int
    failed_rows: int
    progress: float
    errors: list[RowErrorOut]
    error: str | None
    duplicate: bool
    created_at: datetime
    finished_at: datetime | None


class ImportList(msgspec.Struct, frozen=True, kw_only=True):
    imports: list[ImportBody]
    pagination: Pagination


def import_body(record: store.Import, *, duplicate: bool = False) -> ImportBody:
    done = record.status == "succeeded" or record.total_rows == 0
    progress = 1.0 if done else min(1.0, record.done_rows / record.total_rows)
    return ImportBody(
        id=record.id, filename=record.filename, kind=record.kind, encoding=record.encoding, status=record.status,
        track_id=record.track_id, artist=record.artist, total_rows=record.total_rows, done_rows=record.done_rows,
        imported_rows=record.imported_rows, failed_rows=record.failed_rows, progress=round(progress, 4),
        errors=[RowErrorOut(line=e.line, column=e.column, message=e.message) for e in record.row_errors],
        error=record.error, duplicate=duplicate, created_at=record.created_at, finished_at=record.finished_at,
    )  # fmt: skip


_UPLOAD_DESCRIPTION = (
    "A multipart upload of one stream report: Spotify for Artists CSV exports (audience timeline, per-song"
    " timeline, songs table) or a DistroKid TSV report, told apart by their header row (docs/imports.md)."
    " Answers 202 with the import and a Location to follow its progress while the rows are written. Rows"
    " that cannot be read are reported by line and column; the others are imported. The same file uploaded"
    " again answers 200 with the first import (`duplicate: true`) and writes nothing twice.")


def imports_router(ctx: ApiContext, jobs: Jobs) -> Router:
    router = Router("imports", ctx, tag="Imports")

    @router.route("POST", "/v1/imports", summary="Import a stream report", access=Access.MEMBER,
                  form=ImportForm, response=ImportBody, status=202, description=_UPLOAD_DESCRIPTION,
                  other_responses=((200, ImportBody, "The same file was imported before: that import"),))
    async def upload(call: Call) -> ImportBody | Response:
        started = await start_import(call, jobs, call.body, call.filenames.get("file", "upload"))
        call.headers["Location"] = f"/v1/imports/{started.id}"
        return json_response(started) if started.duplicate else started  # the same bytes again: 200

    @router.route("GET", "/v1/imports/<uuid:import_id>", summary="Get an import's progress", access=Access.VIEWER,
                  response=ImportBody, description="Running imports move on every 1,000 rows; one whose"
                  " server stopped is reported failed (upload the file again to finish it).")
    async def get_import(call: Call, import_id: uuid.UUID) -> ImportBody:
        return await read_import(call, import_id)

    @router.route("GET", "/v1/imports", summary="List imports", access=Access.VIEWER, query=ListQuery,
                  response=ImportList, description="The organization's imports, newest first.")
    async def list_imports(call: Call) -> ImportList:
        return await list_import_page(call, call.query)

    return router


async def read_import(call: Call, import_id: uuid.UUID) -> ImportBody:
    """The organization's import and its progress (one whose server stopped, failed); 404 when not found."""
    await store.expire_stale(call.db, stale_after=STALE_AFTER)
    record = await store.get_import(call.db, call.caller.organization_id, import_id)
    if record is None:
        raise not_found("import")
    return import_body(record)


async def list_import_page(call: Call, window: ListQuery) -> ImportList:
    """The organization's imports in ``window``, newest first."""
    await store.expire_stale(call.db, stale_after=STALE_AFTER)
    page = await store.list_imports(call.db, call.caller.organization_id, limit=window.limit, offset=window.offset)
    return ImportList(imports=[import_body(r) for r in page.items], pagination=Pagination.of(page))


async def start_import(call: Call, jobs: Jobs, form: ImportForm, filename: str) -> ImportBody:
    """Parse and record the upload, then write its rows in a job of ``jobs``; the same bytes imported
    before are that import (``duplicate``), nothing started. ApiError 400 naming the field for a file
    we cannot use."""
    org = call.caller.organization_id
    await store.expire_stale(call.db, stale_after=STALE_AFTER)
    try:
        prepared = await prepare(
            call.db, org, form.file, filename,
            kind=form.kind if isinstance(form.kind, ReportKind) else None,
            track_id=form.track_id if isinstance(form.track_id, uuid.UUID) else None,
            artist=form.artist if isinstance(form.artist, str) else None, requested_by=call.caller.user_id)
    except ImportRejected as exc:
        raise ApiError(400, "VALIDATION_ERROR", exc.message, [ErrorDetail(exc.field, exc.message)]) from None
    if not prepared.started:
        return import_body(prepared.record, duplicate=True)
    jobs.start(f"import {prepared.record.id}", functools.partial(load, call.ctx.db(), org, prepared))
    return import_body(prepared.record)
