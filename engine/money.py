"""Currencies' minor units, the one copy: Meta counts budgets and spend in minor units with an offset of 1
(zero-decimal currencies) or 100 (every other), and so do our facts, totals and exports (PROVIDERS.md A3:
offset 1 for these; VND per (3rd-party) mureo PR #372). ``lifetime_budget_minor`` turns our campaign's
budget into the lifetime budget its linked Meta campaign gets, and ``NOT_PUSHABLE`` and ``DAILY_BUDGET`` are
how we say that we will not push it."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["DAILY_BUDGET", "NOT_PUSHABLE", "ZERO_DECIMAL_CURRENCIES", "BudgetNotPushable", "currency_offset",
           "currency_places", "lifetime_budget_minor"]

ZERO_DECIMAL_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"})
# What a refusal of ours starts with, then the ``BudgetNotPushable`` message.
NOT_PUSHABLE = "the budget cannot be pushed to the linked Meta campaign"
# Why we do not push a lifetime budget to a Meta campaign that has a daily one.
DAILY_BUDGET = ("the Meta campaign has a daily budget, and Meta does not switch a campaign to a lifetime budget:"
                " link the campaign to a Meta campaign created with budgetType lifetime")


class BudgetNotPushable(ValueError):
    """Our budget cannot become the Meta campaign's as it is; ``message`` says why and what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def currency_offset(currency: str) -> int:
    """Minor units per major unit: 1 for the zero-decimal currencies, else 100 (case-insensitive)."""
    return 1 if currency.strip().upper() in ZERO_DECIMAL_CURRENCIES else 100


def currency_places(currency: str) -> int:
    """Decimal places of the major unit: 0 or 2."""
    return 0 if currency_offset(currency) == 1 else 2


def lifetime_budget_minor(budget: Decimal, currency: str, account_currency: str | None) -> int:
    """Our campaign's ``budget`` (major units of ``currency``) as a Meta lifetime budget in minor units of
    the ad account's ``account_currency``: ``Decimal("80"), "USD", "USD"`` → 8000.

    Raises ``BudgetNotPushable`` when the currencies differ (or the account's is unknown): we push no
    converted guess, since a rate we picked would be a budget nobody set; and when the amount is finer
    than the account currency's minor unit (cents of JPY). Meta's own limits (its minimum, its 1M USD
    cap) are Meta's to judge: its refusal reaches the caller as any other.
    """
    if account_currency is None:
        raise BudgetNotPushable("the Meta ad account's currency is not known yet, so our budget is not pushed")
    if currency.strip().upper() != account_currency.strip().upper():
        raise BudgetNotPushable(
            f"the campaign's budget is in {currency} and its Meta ad account counts in {account_currency}: we do"
            f" not convert currencies, so set the campaign's currency to {account_currency} to push its budget")
    minor = budget * currency_offset(account_currency)
    if not minor.is_finite() or minor != minor.to_integral_value() or minor < 1:
        raise BudgetNotPushable(f"{budget} {currency} is not a whole number of the currency's minor units")
    return int(minor)
