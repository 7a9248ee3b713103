"""``parse_report`` case by case: decoding, kind detection, header checks, cells, line numbers, the song
title from a file name, and the size we promise to handle.

Rules: inputs are literal bytes written here, so each test shows the file it is about; what a format
looks like as a whole is for the golden files, what holds for every input is for the property tests.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

import adapters.stream_reports
from adapters.stream_reports import (
    AudienceDay,
    ReportError,
    ReportKind,
    RowError,
    SongDay,
    detect_kind,
    parse_report,
)
from adapters.stream_reports.decode import decode
from adapters.stream_reports.s4a import song_title

DK_NEW = (
    "Reporting Date\tSale Month\tStore\tArtist\tTitle\tISRC\tUPC\tQuantity\tTeam Percentage\tSource Type\t"
    "Country of Sale\tSongwriter Royalties Withheld (USD)\tEarnings (USD)\tDate Inserted\tRecoup (USD)"
)


def test_public_names_are_pinned() -> None:
    assert adapters.stream_reports.__all__ == [
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


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (b"\xef\xbb\xbfdate\n", "date\n", "utf-8-sig"),
        ("Café\n".encode(), "Café\n", "utf-8"),
        ("Café\n".encode("iso-8859-1"), "Café\n", "iso-8859-1"),
        (b"plain ascii", "plain ascii", "utf-8"),
    ],
)
def test_decode_reports_the_encoding_it_used(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"\n\r\n  \n,,,\n", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"PK\x03\x04\x00\x00", "NUL"),
        ("date,streams\n".encode("utf-16"), "UTF-16"),
        (b"\xef\xbb\xbfdate,streams\n2026-01-01,\xe9\n", "not valid UTF-8"),
        (b"date,streams\n", "no data rows"),
        (b"date,streams\n\n,\n", "no data rows"),
        (b'"date,streams\n2026-01-01,1\n', "header row could not be read"),
        (b"name,plays\nx,1\n", "unknown header"),
        (b"date,listeners,streams\n2026-01-01,1,2\n", "unknown header"),
    ],
)
def test_unusable_files_raise_report_error(data: bytes, fragment: str) -> None:
    with pytest.raises(ReportError, match=fragment):
        parse_report(data, "x.csv")


def test_unknown_header_lists_the_accepted_ones() -> None:
    with pytest.raises(ReportError) as info:
        parse_report(b"name,plays\nx,1\n", "x.csv")
    assert "date,listeners,streams,followers" in info.value.message
    assert "song,listeners,streams,saves,release_date" in info.value.message
    assert "Songwriter Royalties Withheld (USD)" in info.value.message


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["date", "listeners", "streams", "followers"], ReportKind.S4A_AUDIENCE),
        (["\ufeff Followers ", "STREAMS", "Date", "Listeners", "extra"], ReportKind.S4A_AUDIENCE),
        (["streams", "date"], ReportKind.S4A_SONG_TIMELINE),
        (["date", "streams", "note"], ReportKind.S4A_SONG_TIMELINE),
        (["date", "streams", "followers"], None),
        (["release_date", "saves", "streams", "listeners", "song"], ReportKind.S4A_SONGS),
        (DK_NEW.split("\t"), ReportKind.DISTROKID),
        ([name.upper() for name in DK_NEW.split("\t")][:-2], None),
        ([], None),
    ],
)
def test_detect_kind(header: list[str], kind: ReportKind | None) -> None:
    assert detect_kind(header) is kind


def test_a_given_kind_names_the_missing_columns() -> None:
    with pytest.raises(ReportError, match=r"s4a_songs: missing 'song', 'saves', 'release_date'"):
        parse_report(b"date,listeners,streams,followers\n2026-01-01,1,2,3\n", "x.csv", kind=ReportKind.S4A_SONGS)
    tsv = "\t".join(DK_NEW.split("\t")[:-1]) + "\n"
    with pytest.raises(ReportError, match=r"missing 'Recoup \(USD\)'$"):
        parse_report(tsv.encode(), "x.tsv", kind=ReportKind.DISTROKID)


def test_a_given_kind_that_fits_wins_over_detection() -> None:
    data = b"date,listeners,streams,followers\n2026-01-01,1,2,3\n"
    report = parse_report(data, "Neon Lights.csv", kind=ReportKind.S4A_SONG_TIMELINE)
    assert report.song_title == "Neon Lights"
    assert report.rows == [SongDay(line=2, day=date(2026, 1, 1), streams=2)]


def test_kind_may_be_given_as_its_string() -> None:
    report = parse_report(b"date,streams\n2026-01-01,1\n", "x.csv", kind="s4a_song_timeline")  # type: ignore[arg-type]
    assert report.kind is ReportKind.S4A_SONG_TIMELINE
    with pytest.raises(ReportError, match="unknown kind 'audience'"):
        parse_report(b"date,streams\n2026-01-01,1\n", "x.csv", kind="audience")  # type: ignore[arg-type]


def test_a_known_column_twice_is_refused() -> None:
    with pytest.raises(ReportError, match="'streams' more than once"):
        parse_report(b"date,streams,Streams\n2026-01-01,1,2\n", "x.csv")


def test_line_numbers_are_physical_lines() -> None:
    data = b'\n\ndate,streams,note\r\n2026-01-01,1,"two\nlines"\n\n2026-01-02,x,\n2026-01-03,3,\n'
    report = parse_report(data, "x.csv")
    assert report.rows == [
        SongDay(line=4, day=date(2026, 1, 1), streams=1),
        SongDay(line=8, day=date(2026, 1, 3), streams=3),
    ]
    assert report.errors == [RowError(line=7, column="streams", message="streams must be a whole number ≥ 0, got 'x'")]
    assert report.total_rows == 3


def test_cells_are_stripped_and_blank_optionals_are_none() -> None:
    data = b'date,listeners,streams,followers\n 2026-01-01 , ," 1,234 ",\t\n'
    report = parse_report(data, "x.csv")
    assert report.rows == [AudienceDay(line=2, day=date(2026, 1, 1), listeners=None, streams=1234, followers=None)]


@pytest.mark.parametrize(
    ("cell", "ok"),
    [
        ("0", True),
        ("1,234,567", True),
        ("9223372036854775807", True),
        ("9223372036854775808", False),
        ("12,34", False),
        ("1.0", False),
        ("+1", False),
        ("-1", False),
        ("\u0663", False),  # an Arabic-Indic digit: int() would take it
        ("1_000", False),
        ("1" * 5000, False),  # int() would refuse it with its own ValueError
    ],
)
def test_whole_numbers(cell: str, ok: bool) -> None:
    report = parse_report(f'date,streams\n2026-01-01,"{cell}"\n'.encode(), "x.csv")
    assert len(report.rows) == ok and len(report.errors) == (not ok)


def test_distrokid_amounts_quantities_and_countries() -> None:
    row = "2026-03-05\t2025-12\tSpotify\tA\tT\t\t\t-2\t100%\tSong\tgb\t\t-0.5\t2026-03-06\t1e-3"
    report = parse_report(f"{DK_NEW}\n{row}\n".encode(), "dk.tsv")
    (parsed,) = report.rows
    assert (parsed.quantity, parsed.country, parsed.earnings_usd) == (-2, "GB", Decimal("-0.5"))  # type: ignore[union-attr]
    assert (parsed.recoup_usd, parsed.team_percentage, parsed.isrc) == (Decimal("0.001"), 100, None)  # type: ignore[union-attr]
    for bad in ("NaN", "Infinity", "1_0", "1e999", "0x10", "1,5"):
        report = parse_report(f"{DK_NEW}\n{row.replace('-0.5', bad)}\n".encode(), "dk.tsv")
        assert [error.column for error in report.errors] == ["Earnings (USD)"], bad


@pytest.mark.parametrize(
    ("filename", "title"),
    [
        ("Demo Track-timeline.csv", "Demo Track"),
        ("uploads/Neon Lights.csv", "Neon Lights"),
        ("C:\\Users\\me\\Neon Lights_TIMELINE.CSV", "Neon Lights"),
        ("Slow Down - timeline.csv", "Slow Down"),
        ("Mr. Brightside", "Mr. Brightside"),
        ("No.1 timeline.txt", "No.1"),
        ("timeline.csv", "timeline"),
        ("-timeline.csv", None),
        ("dir/.csv", None),
        ("", None),
    ],
)
def test_song_title_from_the_file_name(filename: str, title: str | None) -> None:
    assert song_title(filename) == title


def test_song_title_only_for_song_timelines() -> None:
    assert parse_report(b"date,listeners,streams,followers\n2026-01-01,,,\n", "Song.csv").song_title is None


def test_two_hundred_thousand_distrokid_rows_parse_in_a_few_seconds() -> None:
    row = "2026-03-05\t2026-01\tSpotify\tArtist\tSong {}\tQZES72600002\t859712345999\t{}\t100\tSong\tUS\t0\t"
    row += "0.00{}\t2026-03-06\t0"
    lines = [DK_NEW, *(row.format(i % 50, i % 900, i) for i in range(200_000))]
    data = "\n".join(lines).encode("iso-8859-1")
    start = time.perf_counter()
    report = parse_report(data, "big.tsv")
    elapsed = time.perf_counter() - start
    assert (len(report.rows), report.errors, report.total_rows) == (200_000, [], 200_000)
    assert elapsed < 10, elapsed
