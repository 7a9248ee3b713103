"""Command-line values the benchmarks share."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["count_list", "rate_list"]


def count_list(what: str, example: str) -> Callable[[str], list[int]]:
    """An argparse ``type`` for a comma-separated list of positive counts (``1000,5000``) of ``what``."""

    def parse(text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = []
        if not values or min(values) < 1:
            raise argparse.ArgumentTypeError(f"a comma-separated list of {what} counts, e.g. {example}")
        return values

    return parse


def rate_list(text: str) -> list[float]:
    """An argparse ``type`` for a comma-separated list of positive rates (``1,100``)."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("a comma-separated list of positive rates, e.g. 1,100")
    return values
