"""Text to typed rows: the CSV/TSV reading, cell parsers and row loop that every report kind shares.

We own line numbering (physical lines, the header on line 1), the cell-count check, blank-line skipping
and the wording of cell errors. What the columns of each kind are, and which header is which kind, belong
to ``s4a``, ``distrokid`` and the package ``__init__``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Generic, NamedTuple, TypeVar

import msgspec

from adapters.stream_reports.model import ReportError, RowError

__all__ = [
    "REQUIRED", "CellError", "Field", "Schema", "Table", "amount", "convert", "country", "integer", "iso_date",
    "month", "normalize", "percentage", "read_table", "text", "whole",
]  # fmt: skip

S = TypeVar("S", bound=msgspec.Struct)

REQUIRED = object()  # Field.blank: a blank cell is an error rather than a default
_MAX_INT = 2**63 - 1  # so that every count fits a bigint column
_MAX_AMOUNT = Decimal(10) ** 12
_SHOWN = 40  # characters of a bad cell quoted back in a message

_WHOLE = re.compile(r"[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+").fullmatch
_INTEGER = re.compile(r"-?[0-9]+").fullmatch
_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{0,20})?").fullmatch  # the common case, in range by shape
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?").fullmatch
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})").fullmatch
_COUNTRY = re.compile(r"[A-Za-z]{2}").fullmatch


class CellError(Exception):
    """Raised by a cell parser with what the cell should have been ("must be a date written YYYY-MM-DD")."""


class Field(NamedTuple):
    """One known column: its header (lower case), the Struct attribute it fills, how to parse a non-blank
    cell, and what a blank cell becomes (``REQUIRED`` makes it an error)."""

    header: str
    attr: str
    parse: Callable[[str], object]
    blank: object = None


class Schema(NamedTuple, Generic[S]):
    """The columns of one kind, the Struct each good row becomes, and an attribute that must not repeat."""

    fields: tuple[Field, ...]
    make: Callable[..., S]
    unique: str | None = None


class Table(NamedTuple):
    """A file split into cells. ``header`` is as written, with surrounding whitespace and any BOM removed;
    ``records`` yields ``(line, cells)``, or ``(line, message)`` for a line the CSV reader rejected."""

    delimiter: str
    header_line: int
    header: list[str]
    records: Iterator[tuple[int, list[str] | str]]


def normalize(name: str) -> str:
    """The form in which header names are compared: case, surrounding whitespace and BOMs ignored."""
    return name.strip().strip("\ufeff").strip().casefold()


def read_table(text: str) -> Table:
    """Split ``text`` into a header and records; the delimiter is a tab if the header line has one.

    Raises ReportError when there is no header (nothing but blank lines) or the header cannot be read.
    """
    first = next((line for line in io.StringIO(text, newline="") if _content(line)), None)
    if first is None:
        raise ReportError("the file is empty")
    delimiter = "\t" if "\t" in first else ","
    records = _records(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    for line, cells in records:
        if isinstance(cells, str):
            raise ReportError(f"line {line}: the header row could not be read: {cells}")
        if "".join(cells).strip():
            header = [name.strip().strip("\ufeff").strip() for name in cells]
            return Table(delimiter, line, header, records)
    raise ReportError("the file is empty")  # unreachable: `first` is a non-blank line


def convert(table: Table, schema: Schema[S]) -> tuple[list[S], list[RowError], int]:
    """Parse every record into ``schema.make`` Structs: ``(good rows, errors, data rows seen)``.

    A row with any error is left out of the good rows. Lines whose cells are all blank are skipped and
    not counted. Cells are stripped of surrounding whitespace before they are parsed.
    """
    index = {normalize(name): i for i, name in reversed(list(enumerate(table.header)))}
    bound = [(index[f.header], table.header[index[f.header]], f.attr, f.parse, f.blank) for f in schema.fields]
    bound.sort(key=lambda b: b[0])  # errors within a row come in the file's column order
    unique = next(((b[1], b[2]) for b in bound if b[2] == schema.unique), None)
    width, seen = len(table.header), dict[object, int]()
    rows: list[S] = []
    errors: list[RowError] = []
    total = 0
    for line, cells in table.records:
        if isinstance(cells, list) and not "".join(cells).strip():
            continue
        total += 1
        if isinstance(cells, str):
            errors.append(RowError(line=line, column=None, message=cells))
        elif len(cells) != width:
            message = f"expected {width} cells as in the header, got {len(cells)}"
            errors.append(RowError(line=line, column=None, message=message))
        elif (values := _values(line, cells, bound, errors)) is not None:
            if unique is not None:
                label, attr = unique
                if (earlier := seen.setdefault(values[attr], line)) != line:
                    message = f"{attr} {values[attr]} already on line {earlier}"
                    errors.append(RowError(line=line, column=label, message=message))
                    continue
            rows.append(schema.make(**values))
    return rows, errors, total


def whole(cell: str) -> int:
    """A count ≥ 0: ASCII digits, optionally grouped by thousands with commas ("1,234")."""
    if not _WHOLE(cell) or len(cell) > 25:
        raise CellError("must be a whole number ≥ 0")
    return _bounded(int(cell.replace(",", "")))


def integer(cell: str) -> int:
    """A whole number that may be negative (refunds), without thousands separators."""
    if not _INTEGER(cell) or len(cell) > 20:
        raise CellError("must be a whole number such as 12 or -1 (negative for a refund)")
    return _bounded(int(cell))


def amount(cell: str) -> Decimal:
    """A decimal amount, possibly negative or in E notation ("-1.5", "3.4E-05"); no separators."""
    if _PLAIN_AMOUNT(cell):
        return Decimal(cell)
    if not _AMOUNT(cell) or len(cell) > 40 or abs(value := Decimal(cell)) >= _MAX_AMOUNT:
        raise CellError("must be an amount such as 0.0123 or -1.5, without thousands separators")
    return value


def percentage(cell: str) -> Decimal:
    """A decimal such as "100" or "50.5", with or without a trailing "%"."""
    try:
        return amount(cell.removesuffix("%").rstrip())
    except CellError:
        raise CellError("must be a percentage such as 100 or 50.5") from None


@functools.lru_cache(maxsize=4096)  # a report repeats a handful of dates on every line
def iso_date(cell: str) -> date:
    """A calendar date written YYYY-MM-DD."""
    try:
        if _DATE(cell):
            return date.fromisoformat(cell)
    except ValueError:
        pass
    raise CellError("must be a date written YYYY-MM-DD")


@functools.lru_cache(maxsize=4096)
def month(cell: str) -> date:
    """A month written YYYY-MM, as its first day."""
    try:
        if match := _MONTH(cell):
            return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        pass
    raise CellError("must be a month written YYYY-MM")


def country(cell: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased ("us" → "US")."""
    if not _COUNTRY(cell):
        raise CellError("must be a two-letter country code or blank")
    return cell.upper()


def text(cell: str) -> str:
    """Any text, as written (already stripped)."""
    return cell


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | str]]:
    line_num = 0
    while True:
        start = line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # strict: refuse what only a guess could read
            yield start, f"badly quoted cell ({exc}); a quoted cell must be quoted whole, inner quotes doubled"
        else:
            yield start, cells
        line_num = reader.line_num  # type: ignore[attr-defined]  # csv readers have it; Iterator does not


def _values(
    line: int,
    cells: list[str],
    bound: list[tuple[int, str, str, Callable[[str], object], object]],
    errors: list[RowError],
) -> dict[str, object] | None:
    """The parsed cells of one row by attribute, or ``None`` after appending its cell errors."""
    values: dict[str, object] = {"line": line}
    before = len(errors)
    for i, label, attr, parse, blank in bound:
        cell = cells[i].strip()
        try:
            if cell:
                values[attr] = parse(cell)
            elif blank is REQUIRED:
                raise CellError("must not be blank")
            else:
                values[attr] = blank
        except CellError as exc:
            errors.append(RowError(line=line, column=label, message=_message(label, cell, str(exc))))
    return values if len(errors) == before else None


def _content(line: str) -> bool:
    return bool(line.strip().strip(",\t"))


def _message(label: str, cell: str, what: str) -> str:
    if not cell:
        return f"{label} {what}"
    shown = cell if len(cell) <= _SHOWN else cell[:_SHOWN] + "…"
    return f"{label} {what}, got {shown!r}"


def _bounded(value: int) -> int:
    if abs(value) > _MAX_INT:
        raise CellError(f"must be at most {_MAX_INT:,} in size")
    return value
