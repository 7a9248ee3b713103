"""Money in Meta's units: the currency offset, and conversions between minor-unit integers and major-unit decimals.

Budgets, ``spend_cap`` and ``amount_spent`` travel as integers in the currency's minor unit; insights
``spend`` is a decimal in major units (PROVIDERS.md A3). We never hard-code ÷100: JPY and friends have
no cents, and mureo shipped budgets a hundred times off that way. We do not format amounts for display.
"""

from __future__ import annotations

from decimal import Decimal

from engine.money import ZERO_DECIMAL_CURRENCIES, currency_offset

__all__ = ["ZERO_DECIMAL_CURRENCIES", "currency_offset", "to_major", "to_minor"]



def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal("50.00"), "USD"`` → 5000; ``Decimal("3000"), "JPY"`` → 3000.

    Raises ValueError when ``amount`` has more precision than the currency's minor unit (``0.001 USD``,
    ``0.5 JPY``) or is not finite: we never round money silently.
    """
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    minor = amount * currency_offset(currency)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is finer than the currency's minor unit")
    return int(minor)


def to_major(minor: int, currency: str) -> Decimal:
    """``5000, "USD"`` → ``Decimal("50")``; ``3000, "JPY"`` → ``Decimal("3000")``. Exact."""
    return Decimal(minor) / currency_offset(currency)
