"""An organization's daily report as CSV: one row per campaign that ran on the day (RFC 4180, the same
dialect as the campaign CSV: comma, CRLF, a header row, UTF-8 without a BOM). The columns are in
docs/exports.md."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import msgspec

from engine.exports.csv_report import money_text
from engine.money import currency_places

__all__ = ["HEADER", "DailyRow", "render_daily_csv"]

HEADER = ("date", "campaign_id", "campaign", "currency", "spend", "impressions", "clicks", "streams",
          "streams_to_date", "incremental_streams_to_date", "confidence")


class DailyRow(msgspec.Struct, frozen=True, kw_only=True):
    """One campaign on the report's day; ``*_to_date`` cover the campaign's days up to the report's day."""

    campaign_id: uuid.UUID
    campaign: str
    currency: str
    spend: Decimal
    impressions: int
    clicks: int
    streams: int
    streams_to_date: int
    incremental_streams_to_date: int | None
    confidence: str


def render_daily_csv(day: date, rows: list[DailyRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow((day.isoformat(), r.campaign_id, r.campaign, r.currency,
                         money_text(r.spend, currency_places(r.currency)), r.impressions, r.clicks, r.streams,
                         r.streams_to_date, "" if r.incremental_streams_to_date is None else
                         r.incremental_streams_to_date, r.confidence))
    return out.getvalue().encode()
