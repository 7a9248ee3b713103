"""The package surface: ``__all__``, the format tables, dispatch, and byte-for-byte determinism.

Rules: reports come from ``reports.py`` (fixed numbers, fixed ``generated_at``); nothing is mocked.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone
from typing import get_args

import msgspec
import pypdf
import pytest

import engine.exports
from engine.exports import CONTENT_TYPES, FILE_EXTENSIONS, ExportFormat, render
from tests.engine.exports.reports import (
    GENERATED_AT,
    no_baseline_report,
    report,
    single_point_report,
    yen_report,
)

FORMATS = get_args(ExportFormat)
REPORTS = [report, yen_report, no_baseline_report, single_point_report]


def test_all_is_pinned() -> None:
    assert engine.exports.__all__ == [
        "CONTENT_TYPES", "FILE_EXTENSIONS", "ExportFormat", "render", "render_csv", "render_pdf", "render_xlsx",
    ]


def test_every_format_has_a_content_type_and_an_extension() -> None:
    assert set(CONTENT_TYPES) == set(FILE_EXTENSIONS) == set(FORMATS) == {"csv", "xlsx", "pdf"}
    assert all(ext == f".{fmt}" for fmt, ext in FILE_EXTENSIONS.items())


def test_unknown_format_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown export format 'docx'"):
        render(report(), "docx")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("build", REPORTS, ids=lambda b: b.__name__)
def test_same_report_renders_to_the_same_bytes(fmt: ExportFormat, build: object) -> None:
    assert callable(build)
    assert render(build(), fmt) == render(build(), fmt)


def test_xlsx_creation_date_is_generated_at() -> None:
    with zipfile.ZipFile(io.BytesIO(render(report(), "xlsx"))) as archive:
        core = archive.read("docProps/core.xml").decode()
        stamps = {info.date_time for info in archive.infolist()}
    assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2026-04-02T07:30:15Z</dcterms:created>" in core
    assert "<dcterms:modified xsi:type=\"dcterms:W3CDTF\">2026-04-02T07:30:15Z</dcterms:modified>" in core
    assert stamps == {(1980, 1, 1, 0, 0, 0)}


def test_pdf_creation_date_is_generated_at() -> None:
    metadata = pypdf.PdfReader(io.BytesIO(render(report(), "pdf"))).metadata
    assert metadata is not None
    assert metadata.creation_date == GENERATED_AT
    assert metadata.modification_date is None
    assert metadata.title == report().campaign_name


def test_a_naive_generated_at_is_taken_as_utc() -> None:
    naive = msgspec.structs.replace(report(), generated_at=datetime(2026, 4, 2, 7, 30, 15))
    for fmt in FORMATS:
        assert render(naive, fmt) == render(report(), fmt)


def test_an_aware_generated_at_is_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    shifted = msgspec.structs.replace(report(), generated_at=GENERATED_AT.astimezone(paris))
    for fmt in ("csv", "xlsx"):  # the PDF keeps the offset in its metadata, which is also right
        assert render(shifted, fmt) == render(report(), fmt)
