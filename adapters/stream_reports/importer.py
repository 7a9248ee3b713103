"""Loading a parsed stream report into the store: the one import path of ``POST /v1/imports`` and
``songtrack import``.

``prepare`` parses the file (in a worker thread: a big distributor report takes seconds), finds what its
rows belong to (a per-song timeline's track, an audience timeline's artist) and records the import, or
finds the organization's earlier import of the same bytes. ``load`` then writes the rows in chunks, each
chunk in one transaction with the import's progress, and ends the import with the row errors: the
parser's, plus rows that name a song the catalogue does not have. Good rows are always kept.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import msgspec
import trio

from adapters.stream_reports import parse_report
from adapters.stream_reports.model import (
    AudienceDay,
    DistributorRow,
    ParsedReport,
    ReportError,
    ReportKind,
    SongDay,
    SongTotal,
)
from engine.metrics import IMPORT_ROWS, IMPORTS
from engine.store import imports as store
from engine.store.database import Connection, Database

__all__ = ["CHUNK", "ImportRejected", "Prepared", "load", "prepare"]

log = logging.getLogger(__name__)
CHUNK = 1000
assert DistributorRow.__struct_fields__[0] == "line"  # _line_keys leaves the first field out
SOURCE = "s4a"  # track_report_days.source of Spotify for Artists timelines


class ImportRejected(ValueError):
    """The file cannot be imported as asked: ``field`` names the form field (``file``, ``trackId``,
    ``artist``, ``kind``) and the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """An import ready to ``load`` (``started``), or the earlier import of the same bytes (not started)."""

    record: store.Import
    started: bool
    report: ParsedReport


async def prepare(db: Database, org_id: uuid.UUID, data: bytes, filename: str, *, kind: ReportKind | None = None,
                  track_id: uuid.UUID | None = None, artist: str | None = None,
                  requested_by: uuid.UUID | None = None) -> Prepared:
    """Parse and record the import. Raises ImportRejected for an unusable file or a missing target."""
    try:
        report = await trio.to_thread.run_sync(lambda: parse_report(data, filename, kind=kind))
    except ReportError as exc:
        raise ImportRejected("file", exc.message) from None
    track_id, artist = await _target(db, org_id, report, track_id, artist)
    new = store.NewImport(sha256=hashlib.sha256(data).hexdigest(), filename=filename, size_bytes=len(data),
                          kind=str(report.kind), encoding=report.encoding, total_rows=report.total_rows,
                          track_id=track_id, artist=artist)
    problems = [store.RowProblem(line=e.line, column=e.column, message=e.message) for e in report.errors]
    record, started = await store.start_import(db, org_id, new, problems, requested_by)
    return Prepared(record=record, started=started, report=report)


async def _target(db: Database, org_id: uuid.UUID, report: ParsedReport, track_id: uuid.UUID | None,
                  artist: str | None) -> tuple[uuid.UUID | None, str | None]:
    if report.kind is ReportKind.S4A_SONG_TIMELINE:
        titles = await store.track_ids_by_title(db, org_id)
        if track_id is not None:
            if track_id not in {t for ids in titles.values() for t in ids}:
                raise ImportRejected("trackId", "no such track in your organization")
            return track_id, None
        matches = titles.get((report.song_title or "").strip().casefold(), [])
        if len(matches) != 1:
            found = "no track" if not matches else f"{len(matches)} tracks"
            raise ImportRejected("trackId", f"a per-song timeline needs its track: the file name names "
                                            f"{report.song_title!r}, and {found} of your catalogue has that title;"
                                            " give trackId")
        return matches[0], None
    if report.kind is ReportKind.S4A_AUDIENCE:
        artist = (artist or "").strip()
        if not artist:
            raise ImportRejected("artist", "an audience timeline is an artist's: give artist")
        return None, artist
    return None, None


ProgressHook = Callable[[store.Import], Awaitable[None]]


async def load(db: Database, org_id: uuid.UUID, prepared: Prepared, *, chunk: int = CHUNK,
               progress: ProgressHook | None = None) -> store.Import:
    """Write a started import's rows, CHUNK at a time, and end it. ``progress`` is called after each
    chunk with the import as stored. Error handling: a store error ends the import failed with a message
    and propagates; cancellation leaves it running, and its stopped heartbeat ends it (``expire_stale``)."""
    record, rows = prepared.record, prepared.report.rows
    problems: list[store.RowProblem] = []
    try:
        if prepared.report.kind is ReportKind.S4A_SONGS:
            rows, problems = await _songs_with_tracks(db, org_id, rows)  # type: ignore[arg-type]
        # Hashing 100,000 lines takes a few tenths of a second: not on the event loop, which serves requests.
        keys = (await trio.to_thread.run_sync(_line_keys, rows)) if prepared.report.kind is ReportKind.DISTROKID else []
        isrcs = await store.track_ids_by_isrc(db, org_id, [r.isrc for r in rows if isinstance(r, DistributorRow)
                                                           and r.isrc]) if keys else {}
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            async with db.transaction() as conn:
                stored = await _write(conn, org_id, record, part, keys[start:start + chunk], isrcs)
                await store.add_progress(conn, record.id, done=len(part), imported=stored)
            if progress is not None:
                await progress(await _current(db, org_id, record.id))
        # Rows left out as problems were read too.
        await store.add_progress(db, record.id, done=len(problems), imported=0)
    except BaseException as exc:
        if not isinstance(exc, trio.Cancelled):
            with trio.CancelScope(shield=True):
                _count(await store.finish_import(db, record.id, problems=problems,
                                                 error="internal error while storing"))
        raise
    return _count(await store.finish_import(db, record.id, problems=problems))


def _count(ended: store.Import) -> store.Import:
    IMPORTS.labels(ended.kind, ended.status).inc()
    IMPORT_ROWS.labels("imported").inc(ended.imported_rows)
    IMPORT_ROWS.labels("left_out").inc(ended.failed_rows)
    return ended


async def _current(db: Database, org_id: uuid.UUID, import_id: uuid.UUID) -> store.Import:
    found = await store.get_import(db, org_id, import_id)
    assert found is not None
    return found


async def _songs_with_tracks(db: Database, org_id: uuid.UUID, rows: Sequence[SongTotal],
                             ) -> tuple[list[SongTotal], list[store.RowProblem]]:
    titles = await store.track_ids_by_title(db, org_id)
    kept, problems = [], []
    for row in rows:
        matches = titles.get(row.song.strip().casefold(), [])
        if len(matches) == 1:
            kept.append(row)
        else:
            problems.append(store.RowProblem(line=row.line, column="song", message=(
                f"no track of your catalogue is titled {row.song!r}" if not matches else
                f"{len(matches)} tracks of your catalogue are titled {row.song!r}; rename one to import it")))
    return kept, problems


def _line_keys(rows: Sequence[object]) -> list[str]:
    """A key per distributor line: a digest of its fields and its occurrence among identical lines.

    The digest covers ``DistributorRow``'s fields after ``line``, in order: a field added to it changes
    every key, so stored keys must be migrated with it, or a re-import would add every line again."""
    seen: Counter[str] = Counter()
    keys = []
    encode = msgspec.json.Encoder().encode
    for row in rows:
        assert isinstance(row, DistributorRow)
        digest = hashlib.sha256(encode(msgspec.structs.astuple(row)[1:])).hexdigest()  # every field but line
        seen[digest] += 1
        keys.append(f"{digest}#{seen[digest]}")
    return keys


async def _write(conn: Connection, org_id: uuid.UUID, record: store.Import, rows: Sequence[object],
                 keys: Sequence[str], isrcs: dict[str, uuid.UUID]) -> int:
    first = rows[0] if rows else None
    if isinstance(first, SongDay):
        assert record.track_id is not None
        return await store.upsert_track_days(conn, org_id, record.id, SOURCE, [
            store.TrackDay(track_id=record.track_id, day=r.day, streams=r.streams) for r in rows
            if isinstance(r, SongDay)])
    if isinstance(first, AudienceDay):
        assert record.artist is not None
        return await store.upsert_artist_days(conn, org_id, record.id, [
            store.ArtistDay(artist=record.artist, day=r.day, listeners=r.listeners, streams=r.streams,
                            followers=r.followers) for r in rows if isinstance(r, AudienceDay)])
    if isinstance(first, SongTotal):
        titles = await store.track_ids_by_title(conn, org_id)
        return await store.upsert_song_totals(conn, org_id, record.id, [
            store.SongTotals(track_id=titles[r.song.strip().casefold()][0], listeners=r.listeners,
                             streams=r.streams, saves=r.saves, release_date=r.release_date)
            for r in rows if isinstance(r, SongTotal)])
    if isinstance(first, DistributorRow):
        await store.upsert_distributor_sales(conn, org_id, record.id, [
            store.DistributorSale(line_key=key, track_id=isrcs.get((r.isrc or "").upper()),
                                  reporting_date=r.reporting_date, sale_month=r.sale_month, store=r.store,
                                  artist=r.artist, title=r.title, isrc=r.isrc, upc=r.upc, quantity=r.quantity,
                                  country=r.country, earnings_usd=r.earnings_usd, source_type=r.source_type)
            for r, key in zip(rows, keys, strict=True) if isinstance(r, DistributorRow)])
        return len(rows)  # a line already stored is still imported: it is in the store
    return 0
