"""The Structs a parsed stream-report file becomes, and the one error that rejects a whole file.

These are plain values: bytes go in through ``adapters.stream_reports.parse_report`` and these come out. Storing
them, and mapping songs to tracks, is someone else's job.

Errors: a file we cannot use at all raises ``ReportError``; a bad row or cell never raises, it becomes a
``RowError`` in ``ParsedReport.errors`` so that one typo does not cost the user the other rows.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import msgspec

__all__ = [
    "AudienceDay",
    "DistributorRow",
    "ParsedReport",
    "ReportError",
    "ReportKind",
    "RowError",
    "SongDay",
    "SongTotal",
]


class ReportKind(enum.StrEnum):
    """Which export a file is; ``adapters.stream_reports.detect_kind`` tells them apart by their header row."""

    S4A_AUDIENCE = "s4a_audience"
    S4A_SONG_TIMELINE = "s4a_song_timeline"
    S4A_SONGS = "s4a_songs"
    DISTROKID = "distrokid"


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    """One bad row or cell. ``line`` is the 1-based physical line the row starts on (the header is line 1);
    ``column`` is the header name as written in the file, or ``None`` when the whole row is at fault."""

    line: int
    column: str | None
    message: str


class AudienceDay(msgspec.Struct, frozen=True, kw_only=True):
    """One UTC day of the artist-level S4A audience timeline."""

    line: int
    day: date
    listeners: int | None
    streams: int | None
    followers: int | None


class SongDay(msgspec.Struct, frozen=True, kw_only=True):
    """One UTC day of one song's S4A timeline; the song is ``ParsedReport.song_title``."""

    line: int
    day: date
    streams: int


class SongTotal(msgspec.Struct, frozen=True, kw_only=True):
    """One song of the S4A songs table: totals over whatever window the user exported."""

    line: int
    song: str
    listeners: int | None
    streams: int
    saves: int | None
    release_date: date | None


class DistributorRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a DistroKid "excruciating detail" report: one store, country and month for one title.

    ``sale_month`` is the first day of the month. ``quantity`` and ``earnings_usd`` may be negative
    (refunds and adjustments). ``source_type`` holds "Song/Album" in the old header variant and "Source
    Type" in the new one; ``date_inserted`` and ``recoup_usd`` exist in the new variant only.
    """

    line: int
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
    date_inserted: date | None
    songwriter_royalties_withheld_usd: Decimal | None
    recoup_usd: Decimal | None
    team_percentage: Decimal | None


class ParsedReport(msgspec.Struct, frozen=True, kw_only=True):
    """A whole file: the good rows and the errors, each in file order. A row with any error is not in
    ``rows``; ``total_rows`` counts every data row seen, good or bad, and no blank lines."""

    kind: ReportKind
    encoding: str
    song_title: str | None
    rows: list[AudienceDay] | list[SongDay] | list[SongTotal] | list[DistributorRow]
    errors: list[RowError]
    total_rows: int


class ReportError(ValueError):
    """The whole file is unusable: empty, binary, an unknown or unfitting header, or no data rows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
