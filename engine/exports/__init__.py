"""Campaign reports as downloadable files: CSV (the series), XLSX and PDF (summary, attribution, series).

Every renderer is a pure function of a ``CampaignAnalytics``: no I/O, no clock (dates inside the files
come from ``report.generated_at``), the same bytes for the same report. Serving the bytes (file names,
headers) is the HTTP layer's business. What each format holds: docs/exports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from engine.exports.csv_report import render_csv
from engine.exports.pdf_report import render_pdf
from engine.exports.xlsx_report import render_xlsx

if TYPE_CHECKING:
    from engine.analytics.model import CampaignAnalytics

__all__ = ["CONTENT_TYPES", "FILE_EXTENSIONS", "ExportFormat", "render", "render_csv", "render_pdf", "render_xlsx"]

ExportFormat = Literal["csv", "xlsx", "pdf"]

CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8; header=present",  # RFC 4180 § 3: the header parameter
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

FILE_EXTENSIONS: dict[str, str] = {"csv": ".csv", "xlsx": ".xlsx", "pdf": ".pdf"}

_RENDERERS: dict[str, Callable[[CampaignAnalytics], bytes]] = {
    "csv": render_csv,
    "xlsx": render_xlsx,
    "pdf": render_pdf,
}


def render(report: CampaignAnalytics, fmt: ExportFormat) -> bytes:
    """``report`` as a file of format ``fmt``; raises ``ValueError`` for any other format."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {sorted(_RENDERERS)}") from None
    return renderer(report)
