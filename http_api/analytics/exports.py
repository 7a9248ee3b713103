"""Exports of a campaign's analytics as CSV, XLSX or PDF: ``POST /v1/analytics/campaigns/{id}/export``
starts one, ``GET /v1/reports/{id}`` follows it, and the signed link it returns downloads the file.

The file is made by a job of the API process (``engine.exports.job``); the link is signed and expires
(``engine.report_links``, ``[analytics] export_ttl``), and works without a login, like a presigned URL,
so it can be handed to a browser or a colleague. Formats: docs/exports.md.
"""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType
from quart import Response

from engine import report_links
from engine.analytics.campaign import PeriodError, resolve_period
from engine.analytics.days import utc_day
from engine.analytics.model import Granularity
from engine.exports import CONTENT_TYPES, FILE_EXTENSIONS
from engine.exports.job import produce
from engine.jobs import Jobs
from engine.store import analytics as analytics_store
from engine.store import report_exports as store
from http_api.analytics.analytics import analytics_rules, now_of
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.responses import attachment, json_response
from http_api.routing import Access, Call, Router

__all__ = ["ExportRequest", "ReportBody", "export_filename", "report_body", "reports_router"]


class ExportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """What to export: the format, and the analytics' period and granularity (default: as the analytics
    route's)."""

    format: Literal["csv", "xlsx", "pdf"]
    start_date: date | UnsetType = UNSET
    end_date: date | UnsetType = UNSET
    granularity: Granularity = "day"


class ReportBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An export. ``reportUrl`` downloads the file once ``status`` is "succeeded" (before, it answers 202
    with the progress), until ``expiresAt``."""

    id: uuid.UUID
    report_url: str
    expires_at: datetime
    status: Literal["running", "succeeded", "failed"]
    progress: Annotated[int, Meta(ge=0, le=100)]
    format: str
    filename: str
    size_bytes: int | None
    error: str | None
    campaign_id: uuid.UUID | None
    period_start: date
    period_end: date
    created_at: datetime


class ExportProgress(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    progress: int


def report_url(ctx: ApiContext, export: store.ReportExport) -> str:
    key = report_links.link_key(ctx.keys.jwt_signing_key)
    return ctx.public_url + report_links.download_path(key, export.id, int(export.expires_at.timestamp()))


def report_body(ctx: ApiContext, export: store.ReportExport) -> ReportBody:
    return ReportBody(id=export.id, report_url=report_url(ctx, export), expires_at=export.expires_at,
                      status=export.status, progress=export.progress, format=export.format,
                      filename=export.filename, size_bytes=export.size_bytes, error=export.error,
                      campaign_id=export.campaign_id, period_start=export.period_start,
                      period_end=export.period_end, created_at=export.created_at)


def export_filename(name: str, start: date, end: date, fmt: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name.strip())
    stem = "-".join(part for part in safe.split("-") if part)[:60] or "campaign"
    return f"{stem}_{start}_{end}{FILE_EXTENSIONS[fmt]}"


class DownloadQuery(msgspec.Struct, kw_only=True):
    expires: int
    signature: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


def reports_router(ctx: ApiContext, jobs: Jobs) -> Router:
    router = Router("reports", ctx, tag="Analytics")
    rules = analytics_rules(ctx)
    key = report_links.link_key(ctx.keys.jwt_signing_key)

    @router.route("POST", "/v1/analytics/campaigns/<uuid:campaign_id>/export", summary="Export a campaign report",
                  access=Access.VIEWER, body=ExportRequest, response=ReportBody,
                  description="Starts making the report in the background and answers at once with its signed,"
                              " expiring `reportUrl` and `expiresAt` (the reference's fields) and its progress."
                              " The URL answers 202 with the progress until the file is ready.")
    async def export(call: Call, campaign_id: uuid.UUID) -> ReportBody:
        request: ExportRequest = call.body
        org, now = call.caller.organization_id, now_of(call)
        frame = await analytics_store.campaign_frame(call.db, org, campaign_id)
        if frame is None:
            raise not_found("campaign")
        newest = await analytics_store.last_ad_day(call.db, org, campaign_id)
        try:
            period = resolve_period(frame, None if isinstance(request.start_date, UnsetType) else request.start_date,
                                    None if isinstance(request.end_date, UnsetType) else request.end_date,
                                    utc_day(now), newest)
        except PeriodError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc), [ErrorDetail(exc.field, str(exc))]) from None
        new = store.NewExport(
            kind="campaign", campaign_id=campaign_id, format=request.format, granularity=request.granularity,
            period_start=period.start, period_end=period.end,
            filename=export_filename(frame.name, period.start, period.end, request.format),
            expires_at=now.replace(microsecond=0) + timedelta(seconds=ctx.settings.analytics.export_ttl))
        created = await store.create_export(call.db, org, new, call.caller.user_id)
        assert created is not None  # only daily reports can collide
        jobs.start(f"export {created.id}", functools.partial(produce, ctx.db(), org, created, rules=rules, now=now))
        call.headers["Location"] = f"/v1/reports/{created.id}"
        return report_body(ctx, created)

    @router.route("GET", "/v1/reports/<uuid:report_id>", summary="Get an export's progress", access=Access.VIEWER,
                  response=ReportBody, description="An export (a campaign's, or the daily report) and its link.")
    async def get_report(call: Call, report_id: uuid.UUID) -> ReportBody:
        found = await store.get_export(call.db, call.caller.organization_id, report_id)
        if found is None:
            raise not_found("report")
        return report_body(ctx, found)

    @router.route("GET", "/v1/reports/<uuid:report_id>/download", summary="Download an exported report",
                  access=Access.PUBLIC, query=DownloadQuery, errors=(403, 409, 410),
                  other_responses=((202, ExportProgress, "The file is still being made: try again shortly"),),
                  description="The signed link of an export: no login needed. 403 when the signature is not"
                              " right, 410 once the link has expired, 409 when making the file failed.")
    async def download(call: Call, report_id: uuid.UUID) -> Response:
        query: DownloadQuery = call.query
        verdict = report_links.check(key, report_id, query.expires, query.signature, ctx.domain_now().timestamp())
        if verdict == "invalid":
            raise ApiError(403, "AUTHORIZATION_ERROR", "this link is not valid: ask for a new export")
        found = await store.export_file(call.db, report_id) if verdict == "valid" else None
        if found is None:
            raise ApiError(410, "GONE", "this link has expired: ask for a new export")
        export, content = found
        if export.status == "failed":
            raise ApiError(409, "CONFLICT", f"the export failed: {export.error}")
        if content is None:
            response = json_response(ExportProgress(status=export.status, progress=export.progress), status=202)
            response.headers["Retry-After"] = "1"
            return response
        return attachment(content, CONTENT_TYPES[export.format], export.filename)

    return router
