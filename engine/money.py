"""Currencies' minor units, the one copy: Meta counts budgets and spend in minor units with an offset of 1
(zero-decimal currencies) or 100 (every other), and so do our facts, totals and exports (PROVIDERS.md A3:
offset 1 for these; VND per (3rd-party) mureo PR #372)."""

from __future__ import annotations

__all__ = ["ZERO_DECIMAL_CURRENCIES", "currency_offset", "currency_places"]

ZERO_DECIMAL_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"})


def currency_offset(currency: str) -> int:
    """Minor units per major unit: 1 for the zero-decimal currencies, else 100 (case-insensitive)."""
    return 1 if currency.strip().upper() in ZERO_DECIMAL_CURRENCIES else 100


def currency_places(currency: str) -> int:
    """Decimal places of the major unit: 0 or 2."""
    return 0 if currency_offset(currency) == 1 else 2
