"""A report's series as one RFC 4180 table, and how we write money as text in every export.

The CSV holds the series only (a CSV is one table): the summary and the attribution are in the XLSX and
the PDF. The dialect is in docs/exports.md: comma, CRLF, double quotes only where needed, UTF-8 without a
byte-order mark, one header row.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from engine.money import currency_places

if TYPE_CHECKING:
    from engine.analytics.model import CampaignAnalytics

__all__ = ["header", "money_text", "render_csv"]



def money_text(amount: Decimal, places: int) -> str:
    """``amount`` as a plain decimal with exactly ``places`` places: no exponent, no grouping, half-even."""
    return f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"


def header(report: CampaignAnalytics) -> list[str]:
    """The CSV's column names: the spend column carries the currency so that files in different
    currencies never concatenate into one silently mixed column."""
    return ["date", f"spend_{report.currency}", "impressions", "clicks", "streams"]


def render_csv(report: CampaignAnalytics) -> bytes:
    """The header row, then one row per point of ``report.daily`` (oldest first), as UTF-8 bytes."""
    places = currency_places(report.currency)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header(report))
    for point in report.daily:
        writer.writerow([
            point.date.isoformat(), money_text(point.spend, places), point.impressions, point.clicks, point.streams,
        ])
    return buffer.getvalue().encode("utf-8")
