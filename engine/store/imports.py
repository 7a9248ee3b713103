"""SQL for uploaded stream reports (``imports`` and the tables their rows land in).

An import is one uploaded file, found again by its SHA-256 so the same bytes are not imported twice.
Rows are written in chunks, each in its own transaction with the import's progress, and every table is
upserted by its natural key: a re-import (the same file, or a later export that repeats days) replaces
figures and never adds to them. A running import whose heartbeat stops (its process died) is ended
``failed`` with ``INTERRUPTED`` and may simply be uploaded again. It does not parse files.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from engine.store.catalog_common import Page, check_window, count_rows, page
from engine.store.rows import Queries

__all__ = [
    "INTERRUPTED",
    "MAX_KEPT_ERRORS",
    "STREAM_REPORTS_CHANNEL",
    "ArtistDay",
    "DistributorSale",
    "Import",
    "ImportStatus",
    "NewImport",
    "RowProblem",
    "SongTotals",
    "TrackDay",
    "add_progress",
    "expire_stale",
    "finish_import",
    "get_import",
    "list_imports",
    "organizations_named",
    "start_import",
    "track_ids_by_isrc",
    "track_ids_by_title",
    "upsert_artist_days",
    "upsert_distributor_sales",
    "upsert_song_totals",
    "upsert_track_days",
]  # fmt: skip

ImportStatus = Literal["running", "succeeded", "failed"]
INTERRUPTED = "interrupted: the server stopped during the import; upload the file again to finish it"
MAX_KEPT_ERRORS = 1000
STREAM_REPORTS_CHANNEL = "stream_reports"  # NOTIFYed when report days change: the stream counter listens
_COLUMNS = ("id, organization_id, sha256, filename, size_bytes, kind, encoding, track_id, artist, status,"
            " total_rows, done_rows, imported_rows, failed_rows, row_errors::text AS row_errors, error,"
            " created_at, heartbeat_at, finished_at")


class RowProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A row left out: its 1-based line in the file, the column (None: the whole row), and why."""

    line: int
    column: str | None
    message: str


class NewImport(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    filename: str
    size_bytes: int
    kind: str
    encoding: str
    total_rows: int
    track_id: uuid.UUID | None = None
    artist: str | None = None


class Import(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    sha256: str
    filename: str
    size_bytes: int
    kind: str
    encoding: str
    track_id: uuid.UUID | None
    artist: str | None
    status: ImportStatus
    total_rows: int
    done_rows: int
    imported_rows: int
    failed_rows: int
    row_errors: list[RowProblem]
    error: str | None
    created_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None


class TrackDay(msgspec.Struct, frozen=True, kw_only=True):
    track_id: uuid.UUID
    day: date
    streams: int


class ArtistDay(msgspec.Struct, frozen=True, kw_only=True):
    artist: str
    day: date
    listeners: int | None
    streams: int | None
    followers: int | None


class SongTotals(msgspec.Struct, frozen=True, kw_only=True):
    track_id: uuid.UUID
    listeners: int | None
    streams: int
    saves: int | None
    release_date: date | None


class DistributorSale(msgspec.Struct, frozen=True, kw_only=True):
    line_key: str
    track_id: uuid.UUID | None
    reporting_date: date
    sale_month: date
    store: str
    artist: str
    title: str
    isrc: str | None
    upc: str | None
    quantity: int
    country: str
    earnings_usd: Decimal
    source_type: str | None


_problems = msgspec.json.Decoder(list[RowProblem])


def _import(row: object) -> Import:
    record = dict(row)  # type: ignore[call-overload]
    record["row_errors"] = _problems.decode(record["row_errors"])
    return msgspec.convert(record, Import)


async def start_import(q: Queries, org_id: uuid.UUID, new: NewImport, problems: Sequence[RowProblem],
                       requested_by: uuid.UUID | None) -> tuple[Import, bool]:
    """A new running import and True; or the organization's import of the same bytes and False.

    A failed import of the same bytes is started again (same id), since its rows may be partly written:
    upserts make finishing it safe. ``problems`` are the parser's row errors (the first MAX_KEPT_ERRORS are
    kept; ``failed_rows`` counts them all, and they count as done: they have been read).
    """
    kept = msgspec.json.encode(list(problems[:MAX_KEPT_ERRORS])).decode()
    row = await q.fetchrow(
        "INSERT INTO imports AS i (organization_id, sha256, filename, size_bytes, kind, encoding, track_id,"
        " artist, total_rows, failed_rows, done_rows, row_errors, requested_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11::jsonb, $12)"
        " ON CONFLICT (organization_id, sha256) DO UPDATE SET status = 'running', filename = EXCLUDED.filename,"
        " track_id = EXCLUDED.track_id, artist = EXCLUDED.artist, total_rows = EXCLUDED.total_rows,"
        " failed_rows = EXCLUDED.failed_rows, row_errors = EXCLUDED.row_errors, done_rows = EXCLUDED.done_rows,"
        " imported_rows = 0, error = NULL, heartbeat_at = now(), finished_at = NULL, created_at = now()"
        " WHERE i.status = 'failed'"
        f" RETURNING {_COLUMNS}", org_id, new.sha256, new.filename, new.size_bytes, new.kind, new.encoding,
        new.track_id, new.artist, new.total_rows, len(problems), kept, requested_by)
    if row is not None:
        return _import(row), True
    existing = await q.fetchrow(f"SELECT {_COLUMNS} FROM imports WHERE organization_id = $1 AND sha256 = $2",
                                org_id, new.sha256)
    assert existing is not None
    return _import(existing), False


async def add_progress(q: Queries, import_id: uuid.UUID, *, done: int, imported: int) -> None:
    """Count ``done`` more rows read, ``imported`` of them stored, and beat the heartbeat."""
    await q.execute("UPDATE imports SET done_rows = done_rows + $2, imported_rows = imported_rows + $3,"
                    " heartbeat_at = now() WHERE id = $1", import_id, done, imported)


async def finish_import(q: Queries, import_id: uuid.UUID, *, problems: Sequence[RowProblem] = (),
                        error: str | None = None) -> Import:
    """End the import (failed when ``error``), adding ``problems`` found while storing (a song with no
    track, say) to its row errors."""
    row = await q.fetchrow(
        "UPDATE imports SET status = CASE WHEN $2::text IS NULL THEN 'succeeded' ELSE 'failed' END, error = $2,"
        " failed_rows = failed_rows + $3, finished_at = now(), heartbeat_at = now(),"
        " row_errors = (SELECT coalesce(jsonb_agg(e ORDER BY (e->>'line')::int), '[]') FROM ("
        "   SELECT e FROM jsonb_array_elements(row_errors || $4::jsonb) e LIMIT $5) kept)"
        f" WHERE id = $1 RETURNING {_COLUMNS}", import_id, error, len(problems),
        msgspec.json.encode(list(problems)).decode(), MAX_KEPT_ERRORS)
    assert row is not None
    return _import(row)


async def get_import(q: Queries, org_id: uuid.UUID, import_id: uuid.UUID) -> Import | None:
    row = await q.fetchrow(f"SELECT {_COLUMNS} FROM imports WHERE organization_id = $1 AND id = $2",
                           org_id, import_id)
    return None if row is None else _import(row)


async def list_imports(q: Queries, org_id: uuid.UUID, *, limit: int = 20, offset: int = 0) -> Page[Import]:
    """The organization's imports, newest first."""
    check_window(limit, offset)
    total = await count_rows(q, "SELECT count(*) FROM imports WHERE organization_id = $1", org_id)
    rows = await q.fetch(f"SELECT {_COLUMNS} FROM imports WHERE organization_id = $1"
                         " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3", org_id, limit, offset)
    return page([_import(row) for row in rows], total, limit, offset)


async def expire_stale(q: Queries, *, stale_after: timedelta) -> int:
    """End every running import whose heartbeat is older than ``stale_after`` as failed (INTERRUPTED)."""
    status = await q.execute(
        "UPDATE imports SET status = 'failed', error = $1, finished_at = now()"
        " WHERE status = 'running' AND heartbeat_at < now() - $2::interval", INTERRUPTED, stale_after)
    return int(status.split()[-1])


async def track_ids_by_title(q: Queries, org_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
    """The organization's tracks by case-folded, trimmed title (a title may name several tracks)."""
    rows = await q.fetch("SELECT id, title FROM tracks WHERE organization_id = $1 ORDER BY created_at, id", org_id)
    titles: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        titles.setdefault(row["title"].strip().casefold(), []).append(row["id"])
    return titles


async def track_ids_by_isrc(q: Queries, org_id: uuid.UUID, isrcs: Sequence[str]) -> dict[str, uuid.UUID]:
    """The organization's tracks whose ISRC is in ``isrcs`` (upper case, the first track of each)."""
    rows = await q.fetch("SELECT DISTINCT ON (upper(isrc)) upper(isrc) AS isrc, id FROM tracks"
                         " WHERE organization_id = $1 AND upper(isrc) = ANY($2::text[])"
                         " ORDER BY upper(isrc), created_at, id", org_id, sorted({i.upper() for i in isrcs}))
    return {row["isrc"]: row["id"] for row in rows}


async def upsert_track_days(q: Queries, org_id: uuid.UUID, import_id: uuid.UUID | None, source: str,
                            days: Sequence[TrackDay]) -> int:
    """Store report days (a later import's figure replaces an earlier one); returns how many were given.
    Days of tracks not in the organization are skipped (the caller's tracks come from its lookups)."""
    await q.execute(
        "INSERT INTO track_report_days AS r (track_id, organization_id, day, streams, source, import_id)"
        " SELECT d.track_id, t.organization_id, d.day, d.streams, $2, $3"
        " FROM unnest($4::uuid[], $5::date[], $6::bigint[]) AS d(track_id, day, streams)"
        " JOIN tracks t ON t.id = d.track_id AND t.organization_id = $1"
        " ON CONFLICT (track_id, day) DO UPDATE SET streams = EXCLUDED.streams, source = EXCLUDED.source,"
        " import_id = EXCLUDED.import_id, updated_at = now()"
        " WHERE (r.streams, r.source) IS DISTINCT FROM (EXCLUDED.streams, EXCLUDED.source)",
        org_id, source, import_id, [d.track_id for d in days], [d.day for d in days], [d.streams for d in days])
    await q.execute("SELECT pg_notify($1, '')", STREAM_REPORTS_CHANNEL)  # at commit, in q's transaction
    return len(days)


async def upsert_artist_days(q: Queries, org_id: uuid.UUID, import_id: uuid.UUID, days: Sequence[ArtistDay]) -> int:
    await q.execute(
        "INSERT INTO artist_report_days (organization_id, artist, day, listeners, streams, followers, import_id)"
        " SELECT $1, d.artist, d.day, d.listeners, d.streams, d.followers, $2"
        " FROM unnest($3::text[], $4::date[], $5::bigint[], $6::bigint[], $7::bigint[])"
        " AS d(artist, day, listeners, streams, followers)"
        " ON CONFLICT (organization_id, artist, day) DO UPDATE SET listeners = EXCLUDED.listeners,"
        " streams = EXCLUDED.streams, followers = EXCLUDED.followers, import_id = EXCLUDED.import_id,"
        " updated_at = now()", org_id, import_id, [d.artist for d in days], [d.day for d in days],
        [d.listeners for d in days], [d.streams for d in days], [d.followers for d in days])
    return len(days)


async def upsert_song_totals(q: Queries, org_id: uuid.UUID, import_id: uuid.UUID,
                             totals: Sequence[SongTotals]) -> int:
    await q.execute(
        "INSERT INTO track_report_totals (track_id, organization_id, listeners, streams, saves, release_date,"
        " import_id) SELECT s.track_id, t.organization_id, s.listeners, s.streams, s.saves, s.release_date, $2"
        " FROM unnest($3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], $7::date[])"
        " AS s(track_id, listeners, streams, saves, release_date)"
        " JOIN tracks t ON t.id = s.track_id AND t.organization_id = $1"
        " ON CONFLICT (track_id) DO UPDATE SET listeners = EXCLUDED.listeners, streams = EXCLUDED.streams,"
        " saves = EXCLUDED.saves, release_date = EXCLUDED.release_date, import_id = EXCLUDED.import_id,"
        " updated_at = now()", org_id, import_id, [s.track_id for s in totals], [s.listeners for s in totals],
        [s.streams for s in totals], [s.saves for s in totals], [s.release_date for s in totals])
    return len(totals)


async def upsert_distributor_sales(q: Queries, org_id: uuid.UUID, import_id: uuid.UUID | None,
                                   sales: Sequence[DistributorSale]) -> int:
    """Store sales lines whose key is new (a known line is left as it is); returns how many were new."""
    fields = ("line_key", "track_id", "reporting_date", "sale_month", "store", "artist", "title", "isrc", "upc",
              "quantity", "country", "earnings_usd", "source_type")
    types = ("text", "uuid", "date", "date", "text", "text", "text", "text", "text", "bigint", "text",
             "numeric", "text")
    unnest = ", ".join(f"${i + 3}::{kind}[]" for i, kind in enumerate(types))
    status = await q.execute(
        f"INSERT INTO distributor_sales (organization_id, import_id, {', '.join(fields)})"
        f" SELECT $1, $2, s.* FROM unnest({unnest}) AS s({', '.join(fields)})"
        " ON CONFLICT (organization_id, line_key) DO NOTHING",
        org_id, import_id, *([getattr(sale, name) for sale in sales] for name in fields))
    return int(status.split()[-1])


async def organizations_named(q: Queries, ref: str | None) -> list[tuple[uuid.UUID, str]]:
    """The organizations whose id or name (case-insensitive) is ``ref``; every organization when None."""
    rows = await q.fetch("SELECT id, name FROM organizations WHERE $1::text IS NULL OR id::text = lower($1)"
                         " OR lower(name) = lower($1) ORDER BY created_at, id", ref)
    return [(row["id"], row["name"]) for row in rows]
