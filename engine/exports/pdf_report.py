"""A report as a one- or two-page A4 PDF: title, period, summary table, budget and goals, attribution and two
charts.

We use the core Helvetica font with the Windows-1252 encoding (Latin-1 plus typographic quotes, dashes and
the euro sign); characters outside it (a campaign called "Neon ネオン Lights") are replaced, never embedded:
embedding a system font would make the output depend on the host's files, and no single free font covers
every script. The XLSX and the CSV keep names intact.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from engine.exports.charts import Box, bar_chart, line_chart
from engine.money import currency_places

if TYPE_CHECKING:
    from engine.analytics.model import Attribution, BudgetUse, CampaignAnalytics, GoalProgress, Summary

__all__ = ["ENCODING", "MODEL_SENTENCE", "printable", "render_pdf"]

ENCODING = "cp1252"
# The model in one sentence, in Windows-1252: "-" for the minus sign that it lacks, and the
# multiplication sign escaped so that no reader mistakes it for "x".
MODEL_SENTENCE = (
    "incremental streams = streams during the campaign - the baseline daily mean \u00d7 campaign days"
    " (the days elapsed so far while the campaign runs)"
)
_MARGIN, _LINE, _LABEL_W, _CHART_H = 15.0, 5.5, 62.0, 55.0
_CONFIDENCE_COLOURS = {"high": (30, 120, 50), "low": (190, 110, 0), "none": (120, 120, 120)}
NA = "n/a"


def printable(text: str) -> str:
    """``text`` that core Helvetica can show: each character outside printable Windows-1252 becomes the
    Windows-1252 characters of its compatibility decomposition when it has some ("ő" → "o", "ﬁ" → "fi"),
    else "?"."""
    return "".join(_printable_char(c) for c in text)


def _encodable(char: str) -> bool:
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return char.isprintable()


def _printable_char(char: str) -> str:
    if _encodable(char):
        return char
    kept = "".join(c for c in unicodedata.normalize("NFKD", char) if _encodable(c))
    return kept or "?"


def _money(amount: Decimal | None, currency: str, extra_places: int = 0) -> str:
    if amount is None:
        return NA
    places = currency_places(currency) + extra_places
    return f"{amount.quantize(Decimal(1).scaleb(-places)):,f} {currency}"


def _count(value: int | None) -> str:
    return NA if value is None else f"{value:,}"


def _decimal(value: float | None, suffix: str = "") -> str:
    return NA if value is None else f"{value:,.2f}{suffix}"


def _summary_rows(s: Summary, currency: str) -> list[tuple[str, str]]:
    return [
        ("Total spend", _money(s.total_spend, currency)),
        ("Total impressions", _count(s.total_impressions)),
        ("Total clicks", _count(s.total_clicks)),
        ("Total streams", _count(s.total_streams)),
        ("Average CTR", _decimal(s.avg_ctr, "%")),
        ("Average CPC", _money(s.avg_cpc, currency, 2)),
        ("Average CPM", _money(s.avg_cpm, currency)),
        ("Cost per stream", _money(s.cost_per_stream, currency, 2)),
        ("Cost per incremental stream", _money(s.cost_per_incremental_stream, currency, 2)),
        ("ROI", NA if s.roi is None else f"{s.roi * 100:+,.1f}%"),
    ]


def _budget_rows(budget: BudgetUse | None, goals: list[GoalProgress], currency: str) -> list[tuple[str, str]]:
    rows = [] if budget is None else [
        ("Budget", _money(budget.budget, currency)),
        ("Spent so far (all its days)", _money(budget.spent, currency) + (
            "" if budget.used_percent is None else f", {budget.used_percent:,.2f}% of the budget")),
    ]
    rows += [(f"Goal: {g.metric}", f"{g.reached:,} of {g.target:,} ({g.percent:,.2f}%)") for g in goals]
    return rows


def _attribution_rows(a: Attribution, currency: str) -> list[tuple[str, str]]:
    b, fans = a.baseline, a.listeners
    return [
        ("Campaign days", f"{a.campaign_start} to {a.campaign_end} ({a.campaign_days} days, "
                          f"{a.elapsed_days:,.2f} elapsed)"),
        ("Baseline", f"{b.start} to {b.end} ({b.days} days, {b.observed_days} observed)"),
        ("Baseline streams", _count(b.streams)),
        ("Baseline daily mean", _decimal(b.daily_mean)),
        ("Baseline daily stddev", _decimal(b.daily_stddev)),
        ("Streams during the campaign", _count(a.streams_during)),
        ("Expected streams", _decimal(a.expected_streams)),
        ("Incremental streams", _count(a.incremental_streams)),
        ("Listeners opted in / matched", f"{fans.listeners_opted_in:,} / {fans.listeners_matched:,}"),
        ("Their plays of the track", _count(fans.plays)),
        ("Stream value", _money(a.stream_value, currency, 2)),
    ]


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font("helvetica", size=9)
        pdf.cell(_LABEL_W, _LINE, label)
        pdf.set_font("helvetica", "B", 9)
        pdf.multi_cell(0, _LINE, printable(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _header(pdf: FPDF, report: CampaignAnalytics) -> None:
    pdf.set_font("helvetica", "B", 18)
    pdf.multi_cell(0, 9, printable(report.campaign_name), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=9)
    zones = f"ad days: {report.timezones.ads}, stream days: {report.timezones.streams}"
    generated = report.generated_at.astimezone(UTC) if report.generated_at.tzinfo else report.generated_at
    for line in (
        f"Period: {report.period.start} to {report.period.end}, per {report.granularity}",
        f"Timezones: {zones}",
        f"Generated {generated:%Y-%m-%d %H:%M} UTC; amounts in {report.currency}",
    ):
        pdf.multi_cell(0, 4.5, printable(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _attribution(pdf: FPDF, report: CampaignAnalytics) -> None:
    a = report.attribution
    _heading(pdf, "Attribution")
    pdf.set_font("helvetica", "I", 9)
    pdf.multi_cell(0, _LINE, f"Model: {MODEL_SENTENCE}.", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _table(pdf, _attribution_rows(a, report.currency))
    pdf.set_font("helvetica", size=9)
    pdf.cell(_LABEL_W, _LINE, "Confidence")
    pdf.set_font("helvetica", "B", 9)
    pdf.set_text_color(*_CONFIDENCE_COLOURS.get(a.confidence, (0, 0, 0)))
    pdf.cell(0, _LINE, a.confidence.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", size=9)
    for reason in a.reasons:
        pdf.set_x(_MARGIN + _LABEL_W)
        pdf.multi_cell(0, 4.5, printable(f"- {reason}"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _chart(pdf: FPDF, title: str, values: list[float], labels: list[str], *, bars: bool, integer: bool) -> None:
    if pdf.get_y() + _CHART_H + 20 > pdf.h - pdf.b_margin:
        pdf.add_page()
    _heading(pdf, printable(title))
    box = Box(_MARGIN + 14, pdf.get_y() + 2, pdf.w - 2 * _MARGIN - 16, _CHART_H)
    if values:
        (bar_chart if bars else line_chart)(pdf, box, values, labels, integer=integer)
    else:
        pdf.set_font("helvetica", "I", 9)
        pdf.cell(0, _LINE, "No data in this period.")
    pdf.set_y(box.y + box.h + 7)


def render_pdf(report: CampaignAnalytics) -> bytes:
    """The PDF's bytes. Its creation date is ``report.generated_at`` and fpdf2 derives the file ID from
    the content and that date, so the same report always renders to the same bytes."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    generated = report.generated_at
    pdf.set_creation_date(generated if generated.tzinfo else generated.replace(tzinfo=UTC))
    pdf.set_title(report.campaign_name)
    pdf.set_creator("SongTrackPro")
    pdf.add_page()
    _header(pdf, report)
    _heading(pdf, "Summary")
    _table(pdf, _summary_rows(report.summary, report.currency))
    if budget := _budget_rows(report.budget, report.goals, report.currency):
        _heading(pdf, "Budget and goals")
        _table(pdf, budget)
    _attribution(pdf, report)
    labels = [p.date.isoformat() for p in report.daily]
    if pdf.get_y() + 2 * (_CHART_H + 20) > pdf.h - pdf.b_margin:
        pdf.add_page()  # the two charts together: never one left alone on a mostly empty last page
    _chart(pdf, f"Spend per {report.granularity} ({report.currency})", [float(p.spend) for p in report.daily],
           labels, bars=True, integer=False)
    _chart(pdf, f"Streams per {report.granularity}", [float(p.streams) for p in report.daily], labels,
           bars=False, integer=True)
    return bytes(pdf.output())
