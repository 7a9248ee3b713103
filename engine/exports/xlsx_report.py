"""A report as an XLSX workbook: a "Summary" sheet (label, value, definition) and a "Series" sheet with a
native chart of its spend and streams.

Every cell is typed: dates are Excel dates, counts and money are numbers with a number format, None is an
empty cell; no number is stored as text. We do not write formulas: the values are the engine's, and a
reader who wants totals of their own can add them.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

import xlsxwriter

from engine.money import currency_places

if TYPE_CHECKING:
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

    from engine.analytics.model import Attribution, BudgetUse, CampaignAnalytics, GoalProgress, Summary

__all__ = ["MODEL_SENTENCE", "render_xlsx", "utc_naive"]

# The typographic minus and times signs, escaped so that no reader mistakes them for "-" and "x".
_MINUS, _TIMES = "\u2212", "\u00d7"
MODEL_SENTENCE = (
    f"incremental streams = streams during the campaign {_MINUS} the baseline daily mean {_TIMES} campaign days"
    " (the days elapsed so far while the campaign runs)"
)

Kind = Literal["text", "date", "datetime", "int", "float", "percent", "ratio", "money", "unit_money", "heading"]
Value = str | int | float | Decimal | date | datetime | None


class _Row(NamedTuple):
    label: str
    value: Value
    kind: Kind
    definition: str = ""


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without its tzinfo (a naive ``moment`` is taken to be UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _formats(book: xlsxwriter.Workbook, currency: str) -> dict[str, Format]:
    places = currency_places(currency)
    # "[$USD] " is Excel's own currency-with-ISO-code prefix; we keep only letters so a strange code
    # cannot break the format string.
    code = "".join(c for c in currency if c.isascii() and c.isalpha()) or "XXX"
    money = "#,##0" + ("." + "0" * places if places else "")
    unit = "#,##0." + "0" * (places + 2)  # per-click or per-stream amounts are fractions of a cent
    return {
        "text": book.add_format({"valign": "top"}),
        "wrap": book.add_format({"valign": "top", "text_wrap": True}),
        "header": book.add_format({"bold": True, "bottom": 1}),
        "heading": book.add_format({"bold": True, "font_size": 12}),
        "date": book.add_format({"num_format": "yyyy-mm-dd", "align": "left", "valign": "top"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss", "align": "left", "valign": "top"}),
        "int": book.add_format({"num_format": "#,##0", "valign": "top"}),
        "float": book.add_format({"num_format": "#,##0.00", "valign": "top"}),
        "percent": book.add_format({"num_format": '0.00"%"', "valign": "top"}),
        "ratio": book.add_format({"num_format": "0.00%", "valign": "top"}),
        "money": book.add_format({"num_format": f"[${code}] {money}", "valign": "top"}),
        "unit_money": book.add_format({"num_format": f"[${code}] {unit}", "valign": "top"}),
    }


def _write(sheet: Worksheet, row: int, col: int, value: Value, kind: Kind, formats: dict[str, Format]) -> None:
    fmt = formats.get(kind, formats["text"])
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif kind == "heading":
        sheet.write_string(row, col, str(value), formats["heading"])
    elif isinstance(value, str):  # write_string: never turned into a formula or a URL
        sheet.write_string(row, col, value, fmt)
    elif isinstance(value, date):  # datetime is a date too
        sheet.write_datetime(row, col, value, fmt)
    else:
        sheet.write_number(row, col, float(value) if isinstance(value, Decimal) else value, fmt)


def _identity_rows(report: CampaignAnalytics) -> list[_Row]:
    return [
        _Row("Campaign", report.campaign_name, "text"),
        _Row("Campaign ID", str(report.campaign_id), "text"),
        _Row("Currency", report.currency, "text", "ISO 4217 code of every amount in this workbook"),
        _Row("Period start", report.period.start, "date", "First requested day (included)"),
        _Row("Period end", report.period.end, "date", "Last requested day (included)"),
        _Row("Granularity", report.granularity, "text", "One row of the Series sheet per day, week or month"),
        _Row("Ad days timezone", report.timezones.ads, "text", "Spend, impressions and clicks are days of this zone"),
        _Row("Stream days timezone", report.timezones.streams, "text", "Streams are days of this zone"),
        _Row("Generated at (UTC)", utc_naive(report.generated_at), "datetime"),
    ]


def _summary_rows(s: Summary) -> list[_Row]:
    return [
        _Row("Summary", "", "heading"),
        _Row("Total spend", s.total_spend, "money", "Sum of spend over the period"),
        _Row("Total impressions", s.total_impressions, "int", "Sum of impressions over the period"),
        _Row("Total clicks", s.total_clicks, "int", "Sum of clicks over the period"),
        _Row("Total streams", s.total_streams, "int", "Sum of streams over the period"),
        _Row("Average CTR (%)", s.avg_ctr, "percent", f"clicks / impressions {_TIMES} 100; empty when no impressions"),
        _Row("Average CPC", s.avg_cpc, "unit_money", "spend / clicks; empty when no clicks"),
        _Row("Average CPM", s.avg_cpm, "money", f"spend / impressions {_TIMES} 1000; empty when no impressions"),
        _Row("Cost per stream", s.cost_per_stream, "unit_money", "spend / streams; empty when no streams"),
        _Row("Cost per incremental stream", s.cost_per_incremental_stream, "unit_money",
             "spend / incremental streams; empty unless incremental streams > 0"),
        _Row("ROI", s.roi, "ratio",
             f"(incremental streams {_TIMES} stream value {_MINUS} spend) / spend; empty when not computable"),
    ]


def _budget_rows(budget: BudgetUse | None, goals: list[GoalProgress]) -> list[_Row]:
    if budget is None and not goals:
        return []
    rows = [_Row("Budget and goals", "", "heading")]
    if budget is not None:
        rows += [
            _Row("Budget", budget.budget, "money", "The campaign's total budget"),
            _Row("Budget spent", budget.spent, "money", "Spent over all the campaign's days (not only the period)"),
            _Row("Budget used (%)", budget.used_percent, "percent", f"budget spent / budget {_TIMES} 100"),
        ]
    for g in goals:
        rows += [
            _Row(f"Goal: {g.metric}, target", g.target, "int"),
            _Row(f"Goal: {g.metric}, reached", g.reached, "int", "Running total over all the campaign's days"),
            _Row(f"Goal: {g.metric}, reached (%)", g.percent, "percent", f"reached / target {_TIMES} 100"),
        ]
    return rows


def _attribution_rows(a: Attribution) -> list[_Row]:
    b, fans = a.baseline, a.listeners
    return [
        _Row("Attribution", "", "heading"),
        _Row("Model", a.model, "text", MODEL_SENTENCE),
        _Row("Campaign start", a.campaign_start, "date", "First campaign day within the period (a UTC day)"),
        _Row("Campaign end", a.campaign_end, "date", "Last campaign day within the period (a UTC day)"),
        _Row("Campaign days", a.campaign_days, "int", "Days from campaign start to end, both included"),
        _Row("Elapsed days", a.elapsed_days, "float", "Campaign days that have passed (a day in progress counts "
             "the fraction of it that has passed)"),
        _Row("Baseline start", b.start, "date", "First baseline day (UTC day)"),
        _Row("Baseline end", b.end, "date", "Last baseline day, the day before the campaign"),
        _Row("Baseline days", b.days, "int", "Days in the baseline window"),
        _Row("Baseline observed days", b.observed_days, "int", "Baseline days with stream data"),
        _Row("Baseline streams", b.streams, "int", "Streams on the observed baseline days"),
        _Row("Baseline daily mean", b.daily_mean, "float", "Baseline streams / observed days"),
        _Row("Baseline daily stddev", b.daily_stddev, "float", "Standard deviation of the observed days' streams"),
        _Row("Streams during", a.streams_during, "int", "Streams on the campaign days"),
        _Row("Expected streams", a.expected_streams, "float", f"Baseline daily mean {_TIMES} elapsed days"),
        _Row("Incremental streams", a.incremental_streams, "int",
             f"Streams during {_MINUS} expected streams (may be negative)"),
        _Row("Confidence", a.confidence, "text", "high, low (see reasons) or none (no baseline day observed)"),
        _Row("Confidence reasons", "; ".join(a.reasons) or None, "text", "Why the confidence is not high"),
        _Row("Listeners opted in", fans.listeners_opted_in, "int", "Fans who connected through the campaign's link"),
        _Row("Listeners matched", fans.listeners_matched, "int", "Opted-in fans who played the track afterwards"),
        _Row("Listener plays", fans.plays, "int", "Their plays of the track within the period"),
        _Row("Stream value", a.stream_value, "unit_money",
             "Value of one stream, from the [analytics] settings; empty when not set"),
    ]


def _summary_sheet(book: xlsxwriter.Workbook, report: CampaignAnalytics, formats: dict[str, Format]) -> None:
    sheet = book.add_worksheet("Summary")
    for col, title in enumerate(("Item", "Value", "Definition")):
        sheet.write_string(0, col, title, formats["header"])
    rows = [*_identity_rows(report), *_summary_rows(report.summary), *_budget_rows(report.budget, report.goals),
            *_attribution_rows(report.attribution)]
    line = 1
    for row in rows:
        if row.kind == "heading":
            line += 1  # a blank line before each section
            _write(sheet, line, 0, row.label, "heading", formats)
        else:
            sheet.write_string(line, 0, row.label, formats["text"])
            _write(sheet, line, 1, row.value, row.kind, formats)
            if row.definition:
                sheet.write_string(line, 2, row.definition, formats["wrap"])
        line += 1
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 40, formats["text"])
    sheet.set_column(2, 2, 80)
    sheet.freeze_panes(1, 0)


def _series_sheet(book: xlsxwriter.Workbook, report: CampaignAnalytics, formats: dict[str, Format]) -> None:
    sheet = book.add_worksheet("Series")
    titles = ("Date", f"Spend ({report.currency})", "Impressions", "Clicks", "Streams")
    for col, title in enumerate(titles):
        sheet.write_string(0, col, title, formats["header"])
    for line, p in enumerate(report.daily, start=1):
        sheet.write_datetime(line, 0, p.date, formats["date"])
        sheet.write_number(line, 1, float(p.spend), formats["money"])
        for col, count in enumerate((p.impressions, p.clicks, p.streams), start=2):
            sheet.write_number(line, col, count, formats["int"])
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 4, 16)
    sheet.freeze_panes(1, 0)
    if report.daily:
        _series_chart(book, sheet, report)


def _series_chart(book: xlsxwriter.Workbook, sheet: Worksheet, report: CampaignAnalytics) -> None:
    """A native chart of the Series sheet's spend (columns, left axis) and streams (a line, right axis),
    beside the figures: Excel and LibreOffice redraw it from the cells."""
    last = len(report.daily)
    dates = ["Series", 1, 0, last, 0]
    spend = book.add_chart({"type": "column"})
    assert spend is not None
    spend.add_series({"name": ["Series", 0, 1], "categories": dates, "values": ["Series", 1, 1, last, 1],
                      "fill": {"color": "#0b57d0"}, "gap": 50})
    streams = book.add_chart({"type": "line"})
    assert streams is not None
    streams.add_series({"name": ["Series", 0, 4], "categories": dates, "values": ["Series", 1, 4, last, 4],
                        "y2_axis": True, "line": {"color": "#1a7f37", "width": 2}})
    spend.combine(streams)
    spend.set_title({"name": f"Spend and streams per {report.granularity}"})
    spend.set_x_axis({"date_axis": True, "num_format": "yyyy-mm-dd", "num_font": {"rotation": -45}})
    spend.set_y_axis({"name": f"Spend ({report.currency})", "num_format": "#,##0"})
    streams.set_y2_axis({"name": "Streams", "num_format": "#,##0"})
    spend.set_legend({"position": "bottom"})
    spend.set_size({"width": 720, "height": 360})
    sheet.insert_chart(1, 6, spend)


def render_xlsx(report: CampaignAnalytics) -> bytes:
    """The workbook's bytes. Its creation date is ``report.generated_at`` and its zip entries carry
    Excel's fixed 1980 timestamp, so the same report always renders to the same bytes."""
    buffer = io.BytesIO()
    # in_memory: no temporary files. nan_inf_to_errors: a NaN ratio becomes #NUM! instead of raising.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    book.set_properties({"created": utc_naive(report.generated_at), "comments": "SongTrackPro campaign report"})
    formats = _formats(book, report.currency)
    _summary_sheet(book, report, formats)
    _series_sheet(book, report, formats)
    book.close()
    return buffer.getvalue()
