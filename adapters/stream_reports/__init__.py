"""Pure parsers for uploaded stream-report files: bytes and a file name in, a ``ParsedReport`` out.

We do no I/O, touch no database and never guess a song's track: the import route stores what we return.
Accepted formats are described in docs/imports.md.

Errors: ``parse_report`` raises ``ReportError`` (a ``ValueError``) for a file it cannot use at all, and
nothing else, whatever the bytes; bad rows and cells come back as ``RowError``s beside the good rows.
"""

from __future__ import annotations

from adapters.stream_reports import distrokid, s4a
from adapters.stream_reports.decode import decode
from adapters.stream_reports.model import (
    AudienceDay,
    DistributorRow,
    ParsedReport,
    ReportError,
    ReportKind,
    RowError,
    SongDay,
    SongTotal,
)
from adapters.stream_reports.table import Table, convert, normalize, read_table

__all__ = [
    "AudienceDay",
    "DistributorRow",
    "ParsedReport",
    "ReportError",
    "ReportKind",
    "RowError",
    "SongDay",
    "SongTotal",
    "detect_kind",
    "parse_report",
]

# The audience header contains the timeline's, so a header with either of these is never a song timeline.
_AUDIENCE_ONLY = frozenset({"listeners", "followers"})


def detect_kind(header: list[str]) -> ReportKind | None:
    """The kind whose columns ``header`` has (case, surrounding whitespace, a BOM and order ignored, extra
    columns allowed), or ``None``. The more specific kind wins: a header with the audience columns is the
    audience timeline even though it also has a song timeline's ``date`` and ``streams``."""
    names = {normalize(name) for name in header}
    if not distrokid.variant(names)[1]:
        return ReportKind.DISTROKID
    for kind in (ReportKind.S4A_AUDIENCE, ReportKind.S4A_SONGS, ReportKind.S4A_SONG_TIMELINE):
        if names.issuperset(s4a.HEADERS[kind]):
            if kind is ReportKind.S4A_SONG_TIMELINE and names & _AUDIENCE_ONLY:
                return None
            return kind
    return None


def parse_report(data: bytes, filename: str, *, kind: ReportKind | None = None) -> ParsedReport:
    """Parse one uploaded file. ``filename`` names the song of a per-song timeline and is otherwise unused.

    With ``kind`` given, the header must have that kind's columns; otherwise the kind is detected from
    the header. Raises ReportError, and nothing else, when the file is empty or binary, when its header
    is unknown, does not fit ``kind`` or repeats a known column, or when it has no data rows.
    """
    if kind is not None:
        try:
            kind = ReportKind(kind)  # the import route may hand us the form field's plain string
        except ValueError:
            raise ReportError(f"unknown kind {kind!r}; the kinds are {', '.join(ReportKind)}") from None
    text, encoding = decode(data)
    table = read_table(text)
    names = [normalize(name) for name in table.header]
    if kind is None:
        kind = detect_kind(table.header)
        if kind is None:
            shown = ",".join(table.header)
            shown = shown if len(shown) <= 200 else shown[:200] + "…"
            raise ReportError(f"line {table.header_line}: unknown header {shown!r}; {_accepted()}")
    _check_header(table, names, kind)
    rows, errors, total = _convert(table, names, kind)
    if total == 0:
        raise ReportError("the file has a header but no data rows")
    title = s4a.song_title(filename) if kind is ReportKind.S4A_SONG_TIMELINE else None
    return ParsedReport(kind=kind, encoding=encoding, song_title=title, rows=rows, errors=errors, total_rows=total)


def _convert(
    table: Table, names: list[str], kind: ReportKind
) -> tuple[list[AudienceDay] | list[SongDay] | list[SongTotal] | list[DistributorRow], list[RowError], int]:
    match kind:
        case ReportKind.S4A_AUDIENCE:
            return convert(table, s4a.AUDIENCE)
        case ReportKind.S4A_SONG_TIMELINE:
            return convert(table, s4a.SONG_TIMELINE)
        case ReportKind.S4A_SONGS:
            return convert(table, s4a.SONGS)
        case ReportKind.DISTROKID:
            return convert(table, distrokid.variant(names)[0])


def _check_header(table: Table, names: list[str], kind: ReportKind) -> None:
    if kind is ReportKind.DISTROKID:
        schema, missing = distrokid.variant(names)
        wanted = [f.header for f in schema.fields]
    else:
        wanted = list(s4a.HEADERS[kind])
        missing = [name for name in wanted if name not in names]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise ReportError(f"line {table.header_line}: the header does not fit {kind.value}: missing {listed}")
    for name in wanted:
        if names.count(name) > 1:
            raise ReportError(f"line {table.header_line}: the header has the column {name!r} more than once")


def _accepted() -> str:
    s4a_sets = "; ".join(f"{kind.value}: {','.join(s4a.HEADERS[kind])}" for kind in s4a.HEADERS)
    dk = "; ".join(
        f"distrokid, {label} variant, tab-separated: " + ",".join(distrokid.DISPLAY[f.header] for f in schema.fields)
        for label, schema in (("old", distrokid.OLD), ("new", distrokid.NEW))
    )
    return f"accepted headers, in any order and case: {s4a_sets}; {dk}"
