"""Ad accounts and campaigns over Graph (PROVIDERS.md A3): reads with fields and paging, campaign writes.

It owns the JSON shapes (ids and money as strings, budgets in minor units) and the create/update rules;
the objects themselves live in ``world``. Auth and quotas happen before these handlers run.
"""

from __future__ import annotations

import json
from datetime import datetime

from .budgets import check_budgets, minimum_budgets
from .config import token_account
from .graph import GraphError, Request, Response, invalid_param, json_response, page, select
from .world import Account, Campaign, World

__all__ = [
    "account_json",
    "campaign_json",
    "create_campaign",
    "delete_campaign",
    "list_accounts",
    "list_campaigns",
    "list_minimum_budgets",
    "list_pixels",
    "read_account",
    "read_campaign",
    "update_campaign",
]

Json = dict[str, object]
_OBJECTIVES = frozenset(
    {
        "OUTCOME_AWARENESS",
        "OUTCOME_TRAFFIC",
        "OUTCOME_ENGAGEMENT",
        "OUTCOME_LEADS",
        "OUTCOME_SALES",
        "OUTCOME_APP_PROMOTION",
    }
)
_CATEGORIES = frozenset(
    {
        "NONE",
        "EMPLOYMENT",
        "HOUSING",
        "CREDIT",
        "ISSUES_ELECTIONS_POLITICS",
        "ONLINE_GAMBLING_AND_GAMING",
        "FINANCIAL_PRODUCTS_SERVICES",
    }
)
_UPDATE_STATUSES = frozenset({"ACTIVE", "PAUSED", "ARCHIVED", "DELETED"})


def _time(account: Account, moment: float) -> str:
    return datetime.fromtimestamp(moment, account.tz).strftime("%Y-%m-%dT%H:%M:%S%z")


def account_json(world: World, account: Account, fields: list[str]) -> Json:
    offset = datetime.fromtimestamp(world.clock.now(), account.tz).utcoffset()
    obj: Json = {
        "id": f"act_{account.account_id}",
        "account_id": account.account_id,
        "name": account.name,
        "account_status": account.account_status,
        "currency": account.currency,
        "timezone_name": account.timezone_name,
        "spend_cap": "0",
        "timezone_offset_hours_utc": offset.total_seconds() / 3600 if offset else 0.0,
    }
    if "amount_spent" in fields:  # the only costly field: computed only when asked for
        obj["amount_spent"] = str(world.amount_spent(account))
    return select(obj, fields)


def campaign_json(world: World, campaign: Campaign, fields: list[str]) -> Json:
    account = world.accounts[campaign.account_id]
    obj: Json = {
        "id": campaign.id,
        "account_id": campaign.account_id,
        "name": campaign.name,
        "objective": campaign.objective,
        "status": campaign.status,
        "configured_status": campaign.status,
        "effective_status": campaign.status,
        "buying_type": "AUCTION",
        "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
        "special_ad_categories": list(campaign.special_ad_categories),
        "created_time": _time(account, campaign.created_time),
        "updated_time": _time(account, campaign.updated_time),
    }
    if campaign.daily_budget is not None:
        obj["daily_budget"] = str(campaign.daily_budget)
        spent = world.day_metrics(campaign, world.local_date(account)).spend_minor
        obj["budget_remaining"] = str(max(0, campaign.daily_budget - spent))
    if campaign.lifetime_budget is not None:
        obj["lifetime_budget"] = str(campaign.lifetime_budget)
        if "budget_remaining" in fields:  # costly under a lifetime budget (every day so far): only when asked
            obj["budget_remaining"] = str(max(0, campaign.lifetime_budget - world.spent(campaign)))
    return select(obj, fields)


def list_accounts(world: World, request: Request) -> Response:
    """``GET /me/adaccounts``: every account, or the one whose own token this is (``account_tokens``)."""
    fields = request.fields(("account_id", "id"))
    accounts = list(world.accounts.values())
    if world.config.account_tokens and (own := token_account(request.token)) is not None:
        accounts = [world.accounts[own]] if own in world.accounts else []
    return json_response(page(accounts, request, render=lambda account: account_json(world, account, fields)))


def list_pixels(world: World, account: Account, request: Request) -> Response:
    """``GET /act_<id>/adspixels``: the account's pixels, ``id`` and ``name`` by default."""
    fields = request.fields(("id", "name"))
    pixels = [{"id": pixel, "name": f"{account.name} Pixel", "owner_ad_account": {"id": f"act_{account.account_id}"}}
              for pixel, owner in world.pixels.items() if owner == account.account_id]
    return json_response(page([select(pixel, fields) for pixel in pixels], request))


def list_minimum_budgets(world: World, account: Account, request: Request) -> Response:
    """``GET /act_<id>/minimum_budgets``: one MinimumBudget node, its daily minimums in minor units."""
    return json_response(page([minimum_budgets(account)], request))


def read_account(world: World, account: Account, request: Request) -> Response:
    return json_response(account_json(world, account, request.fields(("id",))))


def _status_filter(request: Request) -> set[str] | None:
    raw = request.params.get("effective_status")
    if raw is None:
        return None
    try:
        values = json.loads(raw)
    except ValueError:
        values = raw.split(",")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid_param("Param effective_status must be an array of strings")
    return set(values)


def list_campaigns(world: World, account: Account, request: Request) -> Response:
    wanted, fields = _status_filter(request), request.fields(("id",))
    campaigns = [c for c in world.campaigns_of(account) if wanted is None or c.status in wanted]
    campaigns.sort(key=lambda c: (-c.created_time, c.id))  # newest first, as Ads Manager lists them
    return json_response(page([campaign_json(world, c, fields) for c in campaigns], request))


def read_campaign(world: World, campaign: Campaign, request: Request) -> Response:
    return json_response(campaign_json(world, campaign, request.fields(("id",))))


def _budget(request: Request, name: str) -> int | None:
    """A budget parameter in minor units; Meta sends and takes them as numeric strings.

    A non-positive one is code 100 without a subcode: which subcode Meta uses is UNVERIFIED.
    """
    raw = request.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(f"Param {name} must be an integer") from None
    if value <= 0:
        raise invalid_param(f"Param {name} must be a positive integer")
    return value


def _budgets(request: Request) -> tuple[int | None, int | None]:
    daily, lifetime = _budget(request, "daily_budget"), _budget(request, "lifetime_budget")
    if daily is not None and lifetime is not None:
        raise invalid_param("Only one of daily_budget or lifetime_budget can be set", 1885621)
    return daily, lifetime


def _validate_only(request: Request) -> bool:
    return "validate_only" in request.params.get("execution_options", "")


def _categories(request: Request) -> list[str]:
    if "special_ad_categories" not in request.params:
        raise invalid_param("The parameter special_ad_categories is required")
    raw = request.params["special_ad_categories"]
    values = request.json_param("special_ad_categories") if raw.startswith("[") else [raw] if raw else []
    if not isinstance(values, list) or not all(isinstance(v, str) and v in _CATEGORIES for v in values):
        raise invalid_param("Param special_ad_categories[0] must be one of {" + ", ".join(sorted(_CATEGORIES)) + "}")
    return [v for v in values if v != "NONE"]


def create_campaign(world: World, account: Account, request: Request) -> Response:
    params = request.params
    if not params.get("name"):
        raise invalid_param("The parameter name is required")
    categories = _categories(request)
    objective = params.get("objective", "")
    if objective not in _OBJECTIVES:
        raise invalid_param(f"Param objective must be one of {{{', '.join(sorted(_OBJECTIVES))}}}", 2490408)
    status = params.get("status", "ACTIVE")
    if status not in ("ACTIVE", "PAUSED"):
        raise invalid_param("Param status must be one of {ACTIVE, PAUSED}")
    daily, lifetime = _budgets(request)
    check_budgets(world, account, objective, daily=daily, lifetime=lifetime)
    if _validate_only(request):
        return json_response({"success": True})
    campaign = world.create_campaign(
        account,
        name=params["name"],
        objective=objective,
        status=status,
        daily_budget=daily,
        lifetime_budget=lifetime,
        categories=categories,
    )
    return json_response({"id": campaign.id, "success": True})


def update_campaign(world: World, campaign: Campaign, request: Request) -> Response:
    """Apply a status, name or budget write from now on (``world.update_campaign``), after Meta's checks;
    ``execution_options=["validate_only"]`` runs the checks and changes nothing."""
    status = request.params.get("status")
    if status is not None and status not in _UPDATE_STATUSES:
        raise invalid_param("Param status must be one of {ACTIVE, PAUSED, ARCHIVED, DELETED}")
    if campaign.status == "DELETED":
        raise GraphError("(#300) Edit failure: the campaign is deleted", code=300)
    daily, lifetime = _budgets(request)
    account = world.accounts[campaign.account_id]
    check_budgets(world, account, campaign.objective, daily=daily, lifetime=lifetime, campaign=campaign)
    if _validate_only(request):
        return json_response({"success": True})
    world.update_campaign(
        campaign, status=status, name=request.params.get("name"), daily_budget=daily, lifetime_budget=lifetime
    )
    return json_response({"success": True})


def delete_campaign(world: World, campaign: Campaign, request: Request) -> Response:
    world.update_campaign(campaign, status="DELETED")
    return json_response({"success": True})
