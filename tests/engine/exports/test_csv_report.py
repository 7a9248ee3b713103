"""The CSV export: RFC 4180 (comma, CRLF, minimal double-quote quoting), UTF-8 without BOM, one header row,
one row per point, spend with the currency's decimal places. Read back with the ``csv`` module."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from engine.analytics.model import CampaignAnalytics
from engine.exports import render
from tests.engine.exports import golden
from tests.engine.exports.reports import no_baseline_report, report, single_point_report, yen_report


def read_back(report: CampaignAnalytics) -> list[list[str]]:
    text = render(report, "csv").decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


def test_rows_equal_the_points() -> None:
    source = report()
    header, *rows = read_back(source)
    assert header == ["date", "spend_USD", "impressions", "clicks", "streams"]
    assert len(rows) == len(source.daily) == 30
    for row, point in zip(rows, source.daily, strict=True):
        assert date.fromisoformat(row[0]) == point.date
        assert Decimal(row[1]) == point.spend
        assert [int(v) for v in row[2:]] == [point.impressions, point.clicks, point.streams]


def test_dialect_is_crlf_utf8_without_bom() -> None:
    data = render(report(), "csv")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == data.count(b"\n") == 31  # header + 30 rows, no bare LF
    assert b'"' not in data  # nothing here needs quoting


def test_spend_has_the_currency_places() -> None:
    assert read_back(report())[1][1] == "12.50"
    header, first, *_ = read_back(yen_report())
    assert header[1] == "spend_JPY"
    assert first[1] == "1800"


def test_zero_spend_keeps_its_places() -> None:
    assert [row[1] for row in read_back(no_baseline_report())[1:]] == ["0.00"] * 5


def test_single_point() -> None:
    assert len(read_back(single_point_report())) == 2


def test_csv_matches_golden() -> None:
    golden.check("campaign.csv", render(report(), "csv"))
