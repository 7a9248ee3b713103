"""Bar and line charts drawn with fpdf2's own rectangles and lines (no plotting library).

A chart is a plot box with a y axis of a few "nice" ticks from zero, at most ``MAX_X_LABELS`` date
labels (always the first and the last), and one slot per value. It copes with a single value, with
hundreds of values (bars get thin, labels get sparse) and with all-zero values (the scale is then 0 to 1).
It does not draw negative values (the series it serves are counts and spend).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["MAX_X_LABELS", "Box", "bar_chart", "compact", "label_indices", "line_chart", "ticks"]

MAX_X_LABELS = 6
_INK, _GRID, _BAR = (40, 40, 40), (215, 215, 215), (66, 110, 180)
_FONT_SIZE = 7


class Box(NamedTuple):
    """The plot area in page units (mm): top-left corner, width and height."""

    x: float
    y: float
    w: float
    h: float


def ticks(top: float, *, integer: bool) -> list[float]:
    """From 0 up to the first multiple of a 1-2-2.5-5 step at or above ``top``, in 2 to 4 steps; a
    ``top`` that is not a positive number (all zeros, NaN, infinity) gets the scale 0 to 1."""
    if not (top > 0 and math.isfinite(top)):
        top = 1.0
    top = max(top, 1e-6)  # below that, log10 of a quarter of it underflows; no amount is that small
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def compact(value: float) -> str:
    """A tick label: at most two decimals, trailing zeros dropped, k/M/B for thousands and up."""
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            return _trim(value / divisor) + suffix
    return _trim(value)


def _trim(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def label_indices(count: int, most: int = MAX_X_LABELS) -> list[int]:
    """Indices of the values that get an x label: evenly spread, always the first and the last."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def bar_chart(pdf: FPDF, box: Box, values: Sequence[float], labels: Sequence[str], *, integer: bool) -> None:
    """One filled bar per value, over axes scaled to the largest value."""
    scale = _axes(pdf, box, values, labels, integer=integer)
    slot = box.w / max(len(values), 1)
    # Below 1.5 mm a slot has no room for a visible gap, and gaps that thin shimmer on screen: bars touch.
    width = slot * 0.8 if slot > 1.5 else slot
    pdf.set_fill_color(*_BAR)
    for i, value in enumerate(values):
        height = scale(value)
        if height > 0:
            pdf.rect(box.x + i * slot + (slot - width) / 2, box.y + box.h - height, width, height, style="F")


def line_chart(pdf: FPDF, box: Box, values: Sequence[float], labels: Sequence[str], *, integer: bool) -> None:
    """A line through one point per value (a marker alone when there is one value)."""
    scale = _axes(pdf, box, values, labels, integer=integer)
    slot = box.w / max(len(values), 1)
    points = [(box.x + (i + 0.5) * slot, box.y + box.h - scale(v)) for i, v in enumerate(values)]
    pdf.set_draw_color(*_BAR)
    pdf.set_line_width(0.4)
    if len(points) > 1:
        pdf.polyline(points)
    if len(points) <= 60:  # markers would merge into a thick line beyond that
        pdf.set_fill_color(*_BAR)
        for x, y in points:
            pdf.rect(x - 0.6, y - 0.6, 1.2, 1.2, style="F")
    pdf.set_line_width(0.2)


def _axes(
    pdf: FPDF, box: Box, values: Sequence[float], labels: Sequence[str], *, integer: bool,
) -> Callable[[float], float]:
    """Draws the grid, the axes and their labels; returns value → bar height in mm."""
    marks = ticks(max(values, default=0.0), integer=integer)
    top = marks[-1]
    pdf.set_font("helvetica", size=_FONT_SIZE)
    pdf.set_line_width(0.2)
    for mark in marks:
        y = box.y + box.h - mark / top * box.h
        pdf.set_draw_color(*(_GRID if mark else _INK))
        pdf.line(box.x, y, box.x + box.w, y)
        text = compact(mark)
        pdf.text(box.x - 1.5 - pdf.get_string_width(text), y + 1.2, text)
    pdf.set_draw_color(*_INK)
    pdf.line(box.x, box.y, box.x, box.y + box.h)
    slot = box.w / max(len(labels), 1)
    for i in label_indices(len(labels)):
        width = pdf.get_string_width(labels[i])
        x = min(max(box.x + (i + 0.5) * slot - width / 2, box.x), box.x + box.w - width)
        pdf.text(x, box.y + box.h + 4, labels[i])
    return lambda value: max(value, 0.0) / top * box.h if math.isfinite(value) else 0.0
