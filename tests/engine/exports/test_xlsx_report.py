"""The XLSX export, read back with openpyxl: typed cells (dates are dates, numbers are numbers, never text),
None as an empty cell, summary values equal to the report's, frozen header rows, set column widths."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from engine.analytics.model import CampaignAnalytics
from engine.exports import render
from tests.engine.exports import golden
from tests.engine.exports.reports import GENERATED_AT, no_baseline_report, report, yen_report


def sheets(report: CampaignAnalytics) -> dict[str, Worksheet]:
    book = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))
    return {sheet.title: sheet for sheet in book.worksheets}


def values(sheet: Worksheet) -> dict[str, object]:
    """Summary sheet: label → value."""
    return {str(row[0].value): row[1].value for row in sheet.iter_rows(min_row=2) if row[0].value is not None}


def test_sheets_and_frozen_headers() -> None:
    book = sheets(report())
    assert list(book) == ["Summary", "Series"]
    assert {name: sheet.freeze_panes for name, sheet in book.items()} == {"Summary": "A2", "Series": "A2"}
    assert all(book["Series"].column_dimensions[c].width > 10 for c in "ABCDE")
    assert book["Summary"].column_dimensions["C"].width > 40


def test_series_cells_are_typed() -> None:
    source = report()
    series = sheets(source)["Series"]
    header, *rows = series.iter_rows(values_only=True)
    assert header == ("Date", "Spend (USD)", "Impressions", "Clicks", "Streams")
    assert len(rows) == 30
    for row, point in zip(rows, source.daily, strict=True):
        assert isinstance(row[0], datetime) and row[0].date() == point.date
        assert isinstance(row[1], int | float) and Decimal(str(row[1])) == point.spend
        assert row[2:] == (point.impressions, point.clicks, point.streams)
    assert series["A2"].number_format == "yyyy-mm-dd"
    assert series["B2"].number_format == "[$USD] #,##0.00"
    assert series["C2"].number_format == "#,##0"


def test_no_number_is_stored_as_text() -> None:
    for sheet in sheets(report()).values():
        for row in sheet.iter_rows(min_row=2, max_col=2):
            cell = row[-1]
            if isinstance(cell.value, str):
                try:
                    float(cell.value)
                except ValueError:
                    continue
                raise AssertionError(f"{sheet.title}!{cell.coordinate} holds the number {cell.value!r} as text")


def test_summary_values_equal_the_report() -> None:
    source = report()
    got, s, a = values(sheets(source)["Summary"]), source.summary, source.attribution
    assert got["Campaign"] == source.campaign_name
    assert got["Period start"] == datetime(2026, 3, 1) and got["Period end"] == datetime(2026, 3, 30)
    assert got["Generated at (UTC)"] == GENERATED_AT.replace(tzinfo=None)
    assert (got["Ad days timezone"], got["Stream days timezone"]) == ("America/Los_Angeles", "UTC")
    assert got["Total spend"] == float(s.total_spend)
    assert (got["Total impressions"], got["Total clicks"], got["Total streams"]) == (
        s.total_impressions, s.total_clicks, s.total_streams)
    # xlsxwriter writes 16 significant digits (Excel keeps 15), so a float comes back within 1e-15.
    assert got["Average CTR (%)"] == pytest.approx(s.avg_ctr, rel=1e-15)
    assert got["ROI"] == pytest.approx(s.roi, rel=1e-15)
    assert got["Average CPC"] == pytest.approx(float(s.avg_cpc or 0), rel=1e-15)
    assert got["Cost per stream"] == pytest.approx(float(s.cost_per_stream or 0), rel=1e-15)
    assert got["Baseline daily mean"] == a.baseline.daily_mean
    assert got["Expected streams"] == a.expected_streams
    assert got["Incremental streams"] == a.incremental_streams
    assert got["Confidence"] == "high" and got["Confidence reasons"] is None
    assert got["Stream value"] == float(Decimal("0.0035"))
    assert got["Listeners matched"] == 187


def test_none_is_an_empty_cell() -> None:
    got = values(sheets(no_baseline_report())["Summary"])
    empty = ["Average CTR (%)", "Average CPC", "Average CPM", "Cost per stream", "Cost per incremental stream",
             "ROI", "Baseline daily mean", "Baseline daily stddev", "Expected streams", "Incremental streams",
             "Stream value"]
    assert {label: got[label] for label in empty} == dict.fromkeys(empty)
    assert got["Confidence"] == "none"
    assert got["Confidence reasons"] == "no baseline day observed"


def test_text_is_never_a_formula_or_a_link() -> None:
    for name in ("=HYPERLINK(\"http://x\")", "https://example.com", "+1", "0042"):
        cell = sheets(report(name=name))["Summary"]["B2"]
        assert (cell.value, cell.data_type, cell.hyperlink) == (name, "s", None)


def test_yen_money_has_no_decimals() -> None:
    series = sheets(yen_report())["Series"]
    assert series["B1"].value == "Spend (JPY)"
    assert series["B2"].value == 1800 and series["B2"].number_format == "[$JPY] #,##0"


def _cell(value: object, number_format: str) -> list[object] | None:
    """A cell as [type, value] plus its number format unless General; None for an empty cell."""
    if value is None:
        return None
    shown = value.isoformat() if isinstance(value, date) else value
    return [type(value).__name__, shown] + ([number_format] if number_format != "General" else [])


def test_xlsx_matches_golden() -> None:
    parts = []
    for name, sheet in sheets(report()).items():  # one row a line, so that a diff points at the row
        rows = ",\n".join("  " + json.dumps([_cell(c.value, c.number_format) for c in row], ensure_ascii=False)
                          for row in sheet.iter_rows())
        parts.append(f" {json.dumps(name)}: [\n{rows}\n ]")
    golden.check("campaign.xlsx.json", ("{\n" + ",\n".join(parts) + "\n}\n").encode())


def test_budget_and_goals_are_typed_rows_of_the_summary() -> None:
    source = report()
    got = values(sheets(source)["Summary"])
    assert source.budget is not None
    assert got["Budget"] == 1000 and Decimal(str(got["Budget spent"])) == source.budget.spent
    assert got["Budget used (%)"] == 68.09
    [goal] = source.goals
    assert (got["Goal: streams, target"], got["Goal: streams, reached"]) == (100_000, goal.reached)
    assert got["Goal: streams, reached (%)"] == goal.percent


def test_the_series_sheet_has_a_native_chart_of_its_spend_and_streams() -> None:
    with zipfile.ZipFile(io.BytesIO(render(report(), "xlsx"))) as book:
        charts = [name for name in book.namelist() if name.startswith("xl/charts/chart")]
        assert len(charts) == 1
        chart = book.read(charts[0]).decode()
    assert "<c:barChart>" in chart and "<c:lineChart>" in chart  # spend as columns, streams as a line
    assert "Series!$B$2:$B$31" in chart and "Series!$E$2:$E$31" in chart and "Series!$A$2:$A$31" in chart
    assert chart.count("<c:valAx>") == 2  # two value axes: money on the left, streams on the right
