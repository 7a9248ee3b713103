"""``engine.money``: our campaign's budget as a Meta lifetime budget. Pure: no I/O, no clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.money import BudgetNotPushable, lifetime_budget_minor


def test_the_budget_is_minor_units_of_the_account_currency() -> None:
    assert lifetime_budget_minor(Decimal("80"), "USD", "USD") == 8000
    assert lifetime_budget_minor(Decimal("26.05"), "usd", "USD") == 2605
    assert lifetime_budget_minor(Decimal("3000"), "JPY", "JPY") == 3000  # no minor unit: offset 1


def test_another_currency_is_refused_never_converted() -> None:
    with pytest.raises(BudgetNotPushable, match="in EUR and its Meta ad account counts in USD"):
        lifetime_budget_minor(Decimal("80"), "EUR", "USD")
    with pytest.raises(BudgetNotPushable, match="not known"):
        lifetime_budget_minor(Decimal("80"), "USD", None)


def test_an_amount_finer_than_the_minor_unit_is_refused() -> None:
    with pytest.raises(BudgetNotPushable, match="minor units"):
        lifetime_budget_minor(Decimal("3000.5"), "JPY", "JPY")
    with pytest.raises(BudgetNotPushable, match="minor units"):
        lifetime_budget_minor(Decimal("0.001"), "USD", "USD")
