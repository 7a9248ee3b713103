"""SQL for exported reports (``report_exports``): a campaign's export or an organization's daily report,
made in the background (its progress and end), its file, and its deletion once its link has expired.

Every read by id is scoped to the organization, except ``export_file``: the download route reaches a file
with a signed link instead of a login, and the signature names the export.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import msgspec

from engine.store.rows import Queries, as_struct, fetch_one, maybe_struct

__all__ = [
    "ExportFormat", "ExportKind", "ExportStatus", "Granularity", "NewExport", "ReportExport", "create_export",
    "daily_exists", "export_file", "finish_export", "get_export", "prune_expired", "set_progress",
]  # fmt: skip

ExportFormat = Literal["csv", "xlsx", "pdf"]
ExportKind = Literal["campaign", "daily"]
ExportStatus = Literal["running", "succeeded", "failed"]
Granularity = Literal["day", "week", "month"]
_COLUMNS = ("id, organization_id, kind, campaign_id, format, granularity, period_start, period_end, status,"
            " progress, error, filename, octet_length(content) AS size_bytes, created_at, finished_at, expires_at")


class NewExport(msgspec.Struct, frozen=True, kw_only=True):
    kind: ExportKind
    campaign_id: uuid.UUID | None
    format: ExportFormat
    granularity: Granularity
    period_start: date
    period_end: date
    filename: str
    expires_at: datetime


class ReportExport(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    kind: ExportKind
    campaign_id: uuid.UUID | None
    format: ExportFormat
    granularity: Granularity
    period_start: date
    period_end: date
    status: ExportStatus
    progress: int
    error: str | None
    filename: str
    size_bytes: int | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime


async def create_export(q: Queries, org_id: uuid.UUID, new: NewExport,
                        requested_by: uuid.UUID | None) -> ReportExport | None:
    """A running export; None when it is a daily report the organization already has for that day."""
    row = await q.fetchrow(
        "INSERT INTO report_exports (organization_id, kind, campaign_id, format, granularity, period_start,"
        " period_end, filename, expires_at, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (organization_id, period_start) WHERE kind = 'daily' DO NOTHING"
        f" RETURNING {_COLUMNS}", org_id, new.kind, new.campaign_id, new.format, new.granularity,
        new.period_start, new.period_end, new.filename, new.expires_at, requested_by)
    return maybe_struct(row, ReportExport)


async def set_progress(q: Queries, export_id: uuid.UUID, progress: int) -> None:
    await q.execute("UPDATE report_exports SET progress = $2 WHERE id = $1 AND status = 'running'",
                    export_id, progress)


async def finish_export(q: Queries, export_id: uuid.UUID, *, content: bytes | None,
                        error: str | None = None) -> ReportExport:
    """Store the file (succeeded) or the error (failed)."""
    row = await fetch_one(
        q, "UPDATE report_exports SET status = CASE WHEN $3::text IS NULL THEN 'succeeded' ELSE 'failed' END,"
        " progress = CASE WHEN $3::text IS NULL THEN 100 ELSE progress END, content = $2, error = $3,"
        f" finished_at = now() WHERE id = $1 RETURNING {_COLUMNS}", export_id, content, error)
    return as_struct(row, ReportExport)


async def get_export(q: Queries, org_id: uuid.UUID, export_id: uuid.UUID) -> ReportExport | None:
    row = await q.fetchrow(f"SELECT {_COLUMNS} FROM report_exports WHERE organization_id = $1 AND id = $2",
                           org_id, export_id)
    return maybe_struct(row, ReportExport)


async def export_file(q: Queries, export_id: uuid.UUID) -> tuple[ReportExport, bytes | None] | None:
    """The export and its file (None until it has succeeded), whatever its organization: the caller has
    checked a signed link naming it."""
    row = await q.fetchrow(f"SELECT {_COLUMNS}, content FROM report_exports WHERE id = $1", export_id)
    if row is None:
        return None
    fields = dict(row)
    content = fields.pop("content")
    return msgspec.convert(fields, ReportExport), content


async def daily_exists(q: Queries, org_id: uuid.UUID, day: date) -> bool:
    return bool(await q.fetchval("SELECT EXISTS (SELECT 1 FROM report_exports WHERE organization_id = $1"
                                 " AND kind = 'daily' AND period_start = $2)", org_id, day))


async def prune_expired(q: Queries, *, now: datetime) -> int:
    """Delete exports whose link has expired; returns how many."""
    status = await q.execute("DELETE FROM report_exports WHERE expires_at < $1", now)
    return int(status.split()[-1])
