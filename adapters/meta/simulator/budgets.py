"""Meta's budget rules for campaign writes: the account's minimums (``GET /act_<id>/minimum_budgets``), the
1M USD cap, and a lifetime budget no lower than what the campaign has already spent.

Every refusal is Meta's HTTP 400 ``OAuthException``, code 100 (invalid parameter), with the
``error_user_title`` and ``error_user_msg`` Ads Manager would show:

- above the cap: subcode 1885261 (ADPRO2__CAMPAIGN_BUDGET_TOO_HIGH, Graph changelog of 8 March 2017: lifetime
  budgets over 1M USD; the daily cap was already 1M USD);
- under the minimum, or under what was spent: no subcode. Meta's subcodes for these are UNVERIFIED (the
  "Budget Is Too Low" title and the message's shape are from Meta answers quoted in SDK issues), so we send
  none rather than invent one.

The minimums are plausible USD figures converted to the account's currency, not Meta's own (Meta computes
them per account). Budgets are the currency's minor units, as on the wire.
"""

from __future__ import annotations

import math
from decimal import Decimal

from .graph import GraphError
from .world import Account, Campaign, World, per_usd

__all__ = ["MINIMUM_FIELDS", "check_budgets", "daily_minimum", "minimum_budgets"]

# US cents a day: $1 for impressions and video views, $5 for high-frequency events (clicks, likes), $40 for
# low-frequency ones (app installs, offer claims), in the order of Meta's MinimumBudget reference.
_MINIMUM_USD_CENTS = {
    "min_daily_budget_high_freq": 500,
    "min_daily_budget_low_freq": 4000,
    "min_daily_budget_imp": 100,
    "min_daily_budget_video_views": 100,
}
MINIMUM_FIELDS = tuple(_MINIMUM_USD_CENTS)
# Which minimum a campaign's objective meets (Meta: the ad sets' optimization goal, which we do not simulate).
_MINIMUM_OF = {"OUTCOME_AWARENESS": "min_daily_budget_imp", "OUTCOME_APP_PROMOTION": "min_daily_budget_low_freq"}
_CAP_USD = 1_000_000


def _in_currency(usd: float, account: Account) -> int:
    return math.ceil(usd * per_usd(account.currency) * account.offset)


def minimum_budgets(account: Account) -> dict[str, object]:
    """One MinimumBudget node: ``currency`` and the four daily minimums in its minor units."""
    minimums = {name: _in_currency(cents / 100, account) for name, cents in _MINIMUM_USD_CENTS.items()}
    return {"currency": account.currency, **minimums}


def daily_minimum(account: Account, objective: str) -> int:
    field = _MINIMUM_OF.get(objective, "min_daily_budget_high_freq")
    return _in_currency(_MINIMUM_USD_CENTS[field] / 100, account)


def _money(minor: int, account: Account) -> str:
    amount = Decimal(minor) / Decimal(account.offset)
    return f"{amount:,.2f} {account.currency}" if account.offset != 1 else f"{amount:,.0f} {account.currency}"


def _too_low(message: str) -> GraphError:
    return GraphError("Invalid parameter", code=100, user_title="Budget Is Too Low", user_msg=message)


def _check_cap(name: str, value: int, account: Account) -> None:
    cap = _in_currency(_CAP_USD, account)
    if value > cap:
        dollars = "" if account.currency == "USD" else " (1,000,000 USD)"
        raise GraphError("Invalid parameter", code=100, subcode=1885261, user_title="Budget Too High",
                         user_msg=f"The {name} can't be more than {_money(cap, account)}{dollars}.")


def check_budgets(world: World, account: Account, objective: str, *, daily: int | None, lifetime: int | None,
                  campaign: Campaign | None = None) -> None:
    """Raise the GraphError Meta answers a budget write with; ``campaign`` is None at creation.

    The minimum of a lifetime budget is the daily minimum times the campaign's days (Meta's rule counts the
    days of the schedule; the simulator has no ``end_time``, so it counts the local days the campaign has
    existed, today included: one at creation).
    """
    minimum = daily_minimum(account, objective)
    if daily is not None:
        _check_cap("daily budget", daily, account)
        if daily < minimum:
            raise _too_low(f"The daily budget for this campaign must be at least {_money(minimum, account)}.")
    if lifetime is None:
        return
    _check_cap("lifetime budget", lifetime, account)
    days = 1
    if campaign is not None:
        days += (world.local_date(account) - world.local_date(account, campaign.created_time)).days
    if lifetime < minimum * days:
        raise _too_low(f"The lifetime budget for this campaign must be at least {_money(minimum * days, account)}"
                       f" ({_money(minimum, account)} a day for {days} days).")
    spent = world.spent(campaign) if campaign is not None else 0
    if lifetime < spent:
        raise _too_low(f"The lifetime budget can't be less than the {_money(spent, account)} this campaign has"
                       " already spent.")
