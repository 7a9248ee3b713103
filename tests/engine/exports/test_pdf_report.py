"""The PDF export, read back with pypdf: pages, extracted text (name, period, attribution), chart drawing
operators in the content streams, and names outside Windows-1252 replaced instead of crashing."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import msgspec
import pypdf

from engine.analytics.model import CampaignAnalytics, Point
from engine.exports import render
from engine.exports.pdf_report import printable
from tests.engine.exports import golden
from tests.engine.exports.reports import no_baseline_report, points, report, single_point_report, yen_report

RECT = re.compile(rb"[-\d.]+ [-\d.]+ [-\d.]+ [-\d.]+ re\b")
LINE_TO = re.compile(rb"[-\d.]+ [-\d.]+ l\b")


def read(report: CampaignAnalytics) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(render(report, "pdf")))


def text(report: CampaignAnalytics) -> str:
    return "\n".join(page.extract_text() for page in read(report).pages)


def operators(report: CampaignAnalytics) -> bytes:
    return b"\n".join(page.get_contents().get_data() for page in read(report).pages)  # type: ignore[union-attr]


def test_text_holds_name_period_and_attribution() -> None:
    got = text(report())
    assert len(read(report()).pages) >= 1
    assert "Midnight Drive — spring push" in got
    assert "Period: 2026-03-01 to 2026-03-30, per day" in got
    assert "ad days: America/Los_Angeles, stream days: UTC" in got
    assert "incremental streams = streams during the campaign - the baseline daily mean \u00d7 campaign days" in got
    assert "Incremental streams 21,706" in got
    assert "Confidence HIGH" in got
    assert "Total spend 680.87 USD" in got


def test_low_confidence_lists_its_reasons() -> None:
    got = text(single_point_report())
    assert "Confidence LOW" in got
    assert "- baseline shorter than 14 days" in got and "- baseline too noisy" in got


def test_no_baseline_shows_none_and_na() -> None:
    got = text(no_baseline_report())
    assert "Confidence NONE" in got and "Incremental streams n/a" in got and "ROI n/a" in got


def test_charts_are_drawn() -> None:
    source = report()
    ops = operators(source)
    assert len(RECT.findall(ops)) >= len(source.daily)  # a bar per day (plus the line chart's markers)
    assert len(LINE_TO.findall(ops)) >= len(source.daily) - 1  # the streams line
    assert "Spend per day (USD)" in text(source) and "Streams per day" in text(source)


def test_first_and_last_dates_label_the_x_axis() -> None:
    got = text(report(daily=points(date(2025, 1, 1), 400)))
    assert "2025-01-01" in got and "2026-02-04" in got


def test_all_zero_series_render() -> None:
    assert "Spend per day (USD)" in text(no_baseline_report())


def test_four_hundred_points_thin_out_the_labels() -> None:
    got = text(report(daily=points(date(2025, 1, 1), 400)))
    assert len(re.findall(r"\d{4}-\d{2}-\d{2}", got)) < 40  # 6 labels a chart, not 400


def test_non_latin_names_are_replaced() -> None:
    got = text(report(name="Neon ネオン Lights"))
    assert "Neon ??? Lights" in got
    assert read(report(name="Neon ネオン Lights")).metadata.title == "Neon ネオン Lights"  # type: ignore[union-attr]


def test_awkward_names_render() -> None:
    for name in ("", " ", "A" * 2000, "word " * 400, "=1+2", "line\nbreak\r\n\x00\x07", "ネオン" * 100):
        assert read(report(name=name)).pages


def test_printable_keeps_windows_1252_and_decomposes_the_rest() -> None:
    assert printable("Café “Ő” — €5 ﬁ\tネ") == "Café “O” — €5 fi??"


def test_yen_amounts_have_no_decimals() -> None:
    got = text(yen_report())
    assert "Total spend 112,650 JPY" in got and "Average CPM 374 JPY" in got and "Average CPC 22.53 JPY" in got


def test_empty_series_says_so() -> None:
    empty = msgspec.structs.replace(single_point_report(), daily=list[Point]())
    assert "No data in this period." in text(empty)


def test_pdf_matches_golden() -> None:
    pages = [page.extract_text().splitlines() for page in read(report()).pages]
    golden.check("campaign.pdf.json", (json.dumps(pages, indent=1, ensure_ascii=False) + "\n").encode())


def test_budget_and_goals_are_stated() -> None:
    got = text(report())
    assert "Budget and goals" in got and "Budget 1,000.00 USD" in got
    assert "68.09% of the budget" in got
    assert re.search(r"Goal: streams [\d,]+ of 100,000 \([\d.,]+%\)", got)


def test_the_two_charts_share_a_page() -> None:
    for source in (report(), no_baseline_report(), yen_report()):
        pages = [page.extract_text() for page in read(source).pages]
        [spend_page] = [n for n, page in enumerate(pages) if "Spend per day" in page]
        [streams_page] = [n for n, page in enumerate(pages) if "Streams per day" in page]
        assert spend_page == streams_page == len(pages) - 1
