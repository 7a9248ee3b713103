"""DistroKid's "excruciating detail" bank report, in its old and new header variants (PROVIDERS.md B4).

The new variant adds ``Date Inserted`` and ``Recoup (USD)``, renames ``Song/Album`` to ``Source Type``
and ``Songwriter Royalties Withheld`` to ``Songwriter Royalties Withheld (USD)``. Both become the same
``DistributorRow``; the fields a variant lacks are ``None``. We do not convert currencies: every amount
in these reports is in US dollars.
"""

from __future__ import annotations

from collections.abc import Collection

from adapters.stream_reports.model import DistributorRow
from adapters.stream_reports.table import (
    REQUIRED,
    Field,
    Schema,
    amount,
    country,
    integer,
    iso_date,
    month,
    percentage,
    text,
)

__all__ = ["DISPLAY", "NEW", "OLD", "variant"]

_FIELDS = {
    field.header: field
    for field in (
        Field("reporting date", "reporting_date", iso_date, REQUIRED),
        Field("sale month", "sale_month", month, REQUIRED),
        Field("store", "store", text, ""),
        Field("artist", "artist", text, ""),
        Field("title", "title", text, ""),
        Field("isrc", "isrc", text),
        Field("upc", "upc", text),
        Field("quantity", "quantity", integer, REQUIRED),
        Field("team percentage", "team_percentage", percentage),
        Field("song/album", "source_type", text),
        Field("source type", "source_type", text),
        Field("country of sale", "country", country, ""),
        Field("songwriter royalties withheld", "songwriter_royalties_withheld_usd", amount),
        Field("songwriter royalties withheld (usd)", "songwriter_royalties_withheld_usd", amount),
        Field("earnings (usd)", "earnings_usd", amount, REQUIRED),
        Field("date inserted", "date_inserted", iso_date),
        Field("recoup (usd)", "recoup_usd", amount),
    )
}


def _old_row(**values: object) -> DistributorRow:
    return DistributorRow(date_inserted=None, recoup_usd=None, **values)  # type: ignore[arg-type]


OLD = Schema(
    fields=tuple(
        _FIELDS[name]
        for name in (
            "reporting date", "sale month", "store", "artist", "title", "isrc", "upc", "quantity",
            "team percentage", "song/album", "country of sale", "songwriter royalties withheld", "earnings (usd)",
        )
    ),
    make=_old_row,
)  # fmt: skip

NEW = Schema(
    fields=tuple(
        _FIELDS[name]
        for name in (
            "reporting date", "sale month", "store", "artist", "title", "isrc", "upc", "quantity",
            "team percentage", "source type", "country of sale", "songwriter royalties withheld (usd)",
            "earnings (usd)", "date inserted", "recoup (usd)",
        )
    ),
    make=DistributorRow,
)  # fmt: skip

# The headers as DistroKid writes them, for error messages and docs.
DISPLAY = {
    name.casefold(): name
    for name in (
        "Reporting Date", "Sale Month", "Store", "Artist", "Title", "ISRC", "UPC", "Quantity",
        "Team Percentage", "Song/Album", "Source Type", "Country of Sale", "Songwriter Royalties Withheld",
        "Songwriter Royalties Withheld (USD)", "Earnings (USD)", "Date Inserted", "Recoup (USD)",
    )
}  # fmt: skip


def variant(names: Collection[str]) -> tuple[Schema[DistributorRow], list[str]]:
    """The variant that fits a header of normalized ``names`` best, and its missing columns (as DistroKid
    writes them); the new variant wins when both fit, since it carries more."""
    def missing(schema: Schema[DistributorRow]) -> list[str]:
        return [DISPLAY[f.header] for f in schema.fields if f.header not in names]

    return min(((schema, missing(schema)) for schema in (NEW, OLD)), key=lambda fit: len(fit[1]))
