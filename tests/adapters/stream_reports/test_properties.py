"""Properties of ``parse_report`` over generated files: what we write we read back, one bad cell costs
exactly one error and no other row, and no input whatsoever raises anything but ReportError.

Rules: files are written here by a small RFC 4180 writer of our own (quoting each cell at random, or
when it must), never by the code under test; the header's order, case and padding, the line ending and
the encoding (UTF-8 with or without a BOM, ISO-8859-1) are drawn too. Generated text has no control
characters and no surrounding whitespace, since the parser strips cells.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.stream_reports import (
    AudienceDay,
    DistributorRow,
    ParsedReport,
    ReportError,
    ReportKind,
    SongDay,
    SongTotal,
    parse_report,
)

Row = AudienceDay | SongDay | SongTotal | DistributorRow
ENCODINGS = ("utf-8-sig", "utf-8", "iso-8859-1")
BAD = {"count": "12a", "date": "2026-02-30", "month": "2026-13", "song": "", "country": "USA", "amount": "1,5"}


@dataclass(frozen=True)
class Column:
    header: str  # as DistroKid or S4A writes it
    attr: str
    render: Callable[[object], st.SearchStrategy[str]]
    bad: str | None  # a cell this column must refuse; None for free text


def _count(value: object) -> st.SearchStrategy[str]:
    if value is None:
        return st.just("")
    assert isinstance(value, int)
    return st.sampled_from([str(value), f"{value:,}"])


def _plain(value: object) -> st.SearchStrategy[str]:
    if value is None:
        return st.just("")
    if isinstance(value, Decimal):
        return st.sampled_from([str(value), format(value, "f")])
    if isinstance(value, date):
        return st.just(value.isoformat())
    return st.just(str(value))


def _month(value: object) -> st.SearchStrategy[str]:
    assert isinstance(value, date)
    return st.just(f"{value.year:04d}-{value.month:02d}")


def _percent(value: object) -> st.SearchStrategy[str]:
    return _plain(value) if value is None else _plain(value).flatmap(lambda s: st.sampled_from([s, s + "%"]))


DAY = Column("date", "day", _plain, BAD["date"])
S4A: dict[ReportKind, list[Column]] = {
    ReportKind.S4A_AUDIENCE: [
        DAY,
        *(Column(name, name, _count, BAD["count"]) for name in ("listeners", "streams", "followers")),
    ],
    ReportKind.S4A_SONG_TIMELINE: [DAY, Column("streams", "streams", _count, BAD["count"])],
    ReportKind.S4A_SONGS: [
        Column("song", "song", _plain, BAD["song"]),
        *(Column(name, name, _count, BAD["count"]) for name in ("listeners", "streams", "saves")),
        Column("release_date", "release_date", _plain, BAD["date"]),
    ],
}
_DK_COMMON = [
    Column("Reporting Date", "reporting_date", _plain, BAD["date"]),
    Column("Sale Month", "sale_month", _month, BAD["month"]),
    *(Column(name, name.lower(), _plain, None) for name in ("Store", "Artist", "Title", "ISRC", "UPC")),
    Column("Quantity", "quantity", _plain, BAD["count"]),
    Column("Team Percentage", "team_percentage", _percent, BAD["amount"]),
    Column("Country of Sale", "country", _plain, BAD["country"]),
    Column("Earnings (USD)", "earnings_usd", _plain, BAD["amount"]),
]
DK_OLD = [
    *_DK_COMMON,
    Column("Song/Album", "source_type", _plain, None),
    Column("Songwriter Royalties Withheld", "songwriter_royalties_withheld_usd", _plain, BAD["amount"]),
]
DK_NEW = [
    *_DK_COMMON,
    Column("Source Type", "source_type", _plain, None),
    Column("Songwriter Royalties Withheld (USD)", "songwriter_royalties_withheld_usd", _plain, BAD["amount"]),
    Column("Date Inserted", "date_inserted", _plain, BAD["date"]),
    Column("Recoup (USD)", "recoup_usd", _plain, BAD["amount"]),
]


def _texts(latin1: bool, *, min_size: int = 0) -> st.SearchStrategy[str]:
    chars = st.characters(max_codepoint=0xFF if latin1 else None, blacklist_categories=("Cc", "Cs"))
    return st.text(chars, min_size=min_size, max_size=12).filter(lambda s: s == s.strip() and len(s) >= min_size)


def _rows(kind: ReportKind, new: bool, latin1: bool) -> st.SearchStrategy[list[Row]]:
    counts = st.integers(0, 2**63 - 1)
    days = st.dates()
    amounts = st.decimals(min_value=-(10**11), max_value=10**11, places=8, allow_nan=False, allow_infinity=False)
    optional_text = st.one_of(st.none(), _texts(latin1, min_size=1))
    countries = st.just("") | st.from_regex(r"[A-Z]{2}", fullmatch=True)
    row: st.SearchStrategy[Row]
    if kind is ReportKind.S4A_AUDIENCE:
        opt = st.none() | counts
        row = st.builds(AudienceDay, line=st.just(0), day=days, listeners=opt, streams=opt, followers=opt)
    elif kind is ReportKind.S4A_SONG_TIMELINE:
        row = st.builds(SongDay, line=st.just(0), day=days, streams=counts)
    elif kind is ReportKind.S4A_SONGS:
        row = st.builds(
            SongTotal, line=st.just(0), song=_texts(latin1, min_size=1), listeners=st.none() | counts,
            streams=counts, saves=st.none() | counts, release_date=st.none() | days,
        )  # fmt: skip
    else:
        row = st.builds(
            DistributorRow, line=st.just(0), reporting_date=days, sale_month=days.map(lambda d: d.replace(day=1)),
            store=_texts(latin1), artist=_texts(latin1), title=_texts(latin1), isrc=optional_text, upc=optional_text,
            quantity=st.integers(-(2**63) + 1, 2**63 - 1), country=countries,
            earnings_usd=amounts, source_type=optional_text, date_inserted=st.none() | days if new else st.none(),
            songwriter_royalties_withheld_usd=st.none() | amounts, recoup_usd=st.none() | amounts if new else st.none(),
            team_percentage=st.none() | amounts,
        )  # fmt: skip
    if kind in (ReportKind.S4A_AUDIENCE, ReportKind.S4A_SONG_TIMELINE):
        return st.lists(row, min_size=1, max_size=8, unique_by=_day)
    return st.lists(row, min_size=1, max_size=8)


def _day(row: Row) -> object:
    return getattr(row, "day", None)


def _quote(cell: str, delimiter: str, force: bool) -> str:
    if force or any(c in cell for c in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@dataclass(frozen=True)
class File:
    kind: ReportKind
    data: bytes
    encoding: str
    rows: list[Row]
    labels: list[str]  # header cells as written, stripped, in file order
    columns: list[Column]  # in file order
    cells: list[list[str]]  # unquoted cells, in file order


@st.composite
def files(draw: st.DrawFn, bad: bool = False) -> tuple[File, int, int]:
    """A whole file; with ``bad``, also the row and column index where a bad cell was put."""
    kind = draw(st.sampled_from(list(ReportKind)))
    new = draw(st.booleans())
    encoding = draw(st.sampled_from(ENCODINGS))
    rows = draw(_rows(kind, new, encoding == "iso-8859-1"))
    columns = draw(st.permutations(S4A.get(kind, DK_NEW if new else DK_OLD)))
    delimiter = "\t" if kind is ReportKind.DISTROKID else ","
    extra = kind is not ReportKind.DISTROKID and draw(st.booleans())
    labels = [draw(st.sampled_from([c.header, c.header.upper(), c.header.title()])) for c in columns]
    header = [draw(st.sampled_from(["", " "])) + label for label in labels] + (["Notes"] if extra else [])
    cells = [[draw(c.render(getattr(r, c.attr))) for c in columns] + (["n, b"] if extra else []) for r in rows]
    where = (0, 0)
    if bad:
        checked = [i for i, c in enumerate(columns) if c.bad is not None]
        where = (draw(st.integers(0, len(rows) - 1)), draw(st.sampled_from(checked)))
        cells[where[0]][where[1]] = columns[where[1]].bad or ""
    quote = st.booleans()
    lines = [delimiter.join(_quote(cell, delimiter, draw(quote)) for cell in line) for line in [header, *cells]]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = text.encode(encoding)
    if encoding == "iso-8859-1":
        with contextlib.suppress(UnicodeDecodeError):
            encoding = "utf-8" if data.decode("utf-8") == text else "mojibake"
    assume(encoding != "mojibake")  # Latin-1 bytes that happen to be valid UTF-8 decode as UTF-8, by design
    expected = [msgspec.structs.replace(r, line=i + 2) for i, r in enumerate(rows)]
    return File(kind, data, encoding, expected, labels, columns, cells), *where


@settings(max_examples=200)
@given(files())
def test_written_rows_read_back_exactly(drawn: tuple[File, int, int]) -> None:
    file = drawn[0]
    report = parse_report(file.data, "Some Song-timeline.csv")
    assert (report.kind, report.encoding, report.errors, report.total_rows) == (
        file.kind, file.encoding, [], len(file.rows),
    )  # fmt: skip
    assert report.rows == file.rows
    assert report.song_title == ("Some Song" if file.kind is ReportKind.S4A_SONG_TIMELINE else None)


@settings(max_examples=200)
@given(files(bad=True))
def test_one_bad_cell_costs_one_error_and_no_other_row(drawn: tuple[File, int, int]) -> None:
    file, row, column = drawn
    report = parse_report(file.data, "x.csv", kind=file.kind)
    [error] = report.errors
    assert (error.line, error.column) == (row + 2, file.labels[column])
    assert error.message.startswith(file.labels[column] + " ")
    assert report.rows == [r for i, r in enumerate(file.rows) if i != row]
    assert report.total_rows == len(file.rows)


def _parses_or_refuses(data: bytes, filename: str, kind: ReportKind | None) -> None:
    try:
        report = parse_report(data, filename, kind=kind)
    except ReportError as exc:
        assert exc.message
        return
    assert isinstance(report, ParsedReport)
    assert report.total_rows == len(report.rows) + len({e.line for e in report.errors})


KINDS = st.none() | st.sampled_from(list(ReportKind))


@settings(max_examples=500)
@given(st.binary(max_size=400), st.text(max_size=20), KINDS)
def test_arbitrary_bytes_raise_nothing_but_report_error(data: bytes, filename: str, kind: ReportKind | None) -> None:
    _parses_or_refuses(data, filename, kind)


HEADERS = st.sampled_from(
    [b"date,streams\n", b"\xef\xbb\xbfdate,listeners,streams,followers\r\n"]
    + [b"song,listeners,streams,saves,release_date\n"]
    + [b"\t".join(c.header.encode() for c in variant) + b"\n" for variant in (DK_OLD, DK_NEW)]
)


@settings(max_examples=500)
@given(HEADERS, st.binary(max_size=400) | st.text(max_size=200).map(str.encode), KINDS)
def test_a_real_header_then_junk_raises_nothing_but_report_error(
    header: bytes, junk: bytes, kind: ReportKind | None
) -> None:
    _parses_or_refuses(header + junk, "x.csv", kind)


@settings(max_examples=200)
@given(st.text(max_size=300), KINDS)
def test_arbitrary_text_raises_nothing_but_report_error(text: str, kind: ReportKind | None) -> None:
    _parses_or_refuses(text.encode("utf-8", "surrogatepass"), "x.csv", kind)
