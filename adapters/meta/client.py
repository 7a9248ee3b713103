"""``MetaClient``: the typed Meta Marketing API client over an injected ``httpx.AsyncClient``.

It owns the ad-account and campaign calls (PROVIDERS.md A3) and mixes in the insights calls
(``adapters.meta.insights``). Every response goes through ``classify``; the client never sleeps and
never retries. Every method returns a ``Result(data, signals)``: ``signals`` are the usage signals
the responses carried, for the poller to feed to the governor; a failure raises an
``engine.provider`` error that carries them too. Money stays in minor units of the account
currency (``adapters.meta.money`` converts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from adapters.meta import schemas
from adapters.meta.audiences import AudienceMethods
from adapters.meta.conversions import ConversionsMethods
from adapters.meta.insights import InsightsMethods
from adapters.meta.schemas import AdAccount, Campaign, MinimumBudget
from adapters.meta.transport import GraphTransport, TokenSource
from engine.provider import Result

__all__ = ["ACCOUNT_FIELDS", "CAMPAIGN_FIELDS", "MetaClient"]

ACCOUNT_FIELDS = ("id", "account_id", "name", "account_status", "currency", "timezone_name", "amount_spent")
CAMPAIGN_FIELDS = (
    "id", "account_id", "name", "status", "configured_status", "effective_status", "objective",
    "daily_budget", "lifetime_budget", "budget_remaining", "special_ad_categories",
    "created_time", "updated_time",
)
_PAGE_LIMIT = "100"


class MetaClient(InsightsMethods, ConversionsMethods, AudienceMethods):
    """The Marketing API for one token. Construction does no I/O; ``http`` is owned by the caller.

    ``token`` is an access token or an async callable returning the current one. ``act_id`` arguments
    are ``act_<digits>``.

    Error handling (every method): ``AuthExpiredError``, ``RateLimitedError``, ``RetryableError``
    (including ``ReduceDataError`` and network failures) or ``FatalProviderError``, each with the
    response's usage ``signals``.
    """

    def __init__(self, http: httpx.AsyncClient, token: TokenSource, *,
                 base_url: str = "https://graph.facebook.com", version: str = "v25.0") -> None:
        self._graph = GraphTransport(http, token, base_url=base_url, version=version)

    async def ad_accounts(self) -> Result[list[AdAccount]]:
        """Every ad account the token's user can reach (``/me/adaccounts``), paged to the end."""
        params = {"fields": ",".join(ACCOUNT_FIELDS), "limit": _PAGE_LIMIT}
        return await self._graph.pages("me/adaccounts", schemas.ACCOUNT_PAGE, params)

    async def account(self, act_id: str) -> Result[AdAccount]:
        """One ad account, with ``amount_spent`` (lifetime, minor units)."""
        return await self._graph.get(act_id, schemas.ACCOUNT, {"fields": ",".join(ACCOUNT_FIELDS)},
                                     account_id=act_id)

    async def campaign(self, campaign_id: str, *, act_id: str | None = None) -> Result[Campaign]:
        """One campaign (a deleted one reads with ``status`` DELETED). Pass ``act_id`` so that a throttle
        names the right account."""
        return await self._graph.get(campaign_id, schemas.CAMPAIGN, {"fields": ",".join(CAMPAIGN_FIELDS)},
                                     account_id=act_id)

    async def campaigns(self, act_id: str, effective_status: Sequence[str] | None = None) -> Result[list[Campaign]]:
        """Every campaign of the account, optionally only those whose ``effective_status`` is listed."""
        params = {"fields": ",".join(CAMPAIGN_FIELDS), "limit": _PAGE_LIMIT}
        if effective_status is not None:
            params["effective_status"] = json.dumps(list(effective_status))
        return await self._graph.pages(f"{act_id}/campaigns", schemas.CAMPAIGN_PAGE, params, account_id=act_id)

    async def create_campaign(self, act_id: str, *, name: str, objective: str, status: str,
                              special_ad_categories: Sequence[str] | None,
                              daily_budget_minor: int | None = None,
                              lifetime_budget_minor: int | None = None) -> Result[str]:
        """Create a campaign; returns its id.

        ``special_ad_categories`` is required by Meta: pass ``[]`` for none. ``None`` omits it, and
        Meta's (#100) then surfaces as ``FatalProviderError``: we let Meta be the judge of its own
        rules rather than copy them. Give at most one budget (minor units); none means the budget
        goes on the ad sets. Raises ValueError for both budgets.
        """
        if daily_budget_minor is not None and lifetime_budget_minor is not None:
            raise ValueError("give daily_budget_minor or lifetime_budget_minor, not both")
        data = {"name": name, "objective": objective, "status": status}
        if special_ad_categories is not None:
            data["special_ad_categories"] = json.dumps(list(special_ad_categories))
        if daily_budget_minor is not None:
            data["daily_budget"] = str(daily_budget_minor)
        if lifetime_budget_minor is not None:
            data["lifetime_budget"] = str(lifetime_budget_minor)
        result = await self._graph.post(f"{act_id}/campaigns", schemas.CREATED, data, account_id=act_id)
        return Result(result.data.id, result.signals)

    async def minimum_budgets(self, act_id: str) -> Result[MinimumBudget]:
        """The account's daily budget minimums (minor units), Meta's floor for a budget we set.

        A lifetime budget's minimum is the daily one times the days it runs. An answer without a node
        gives an empty ``MinimumBudget`` (every field None).
        """
        result = await self._graph.get(f"{act_id}/minimum_budgets", schemas.MINIMUM_BUDGET_PAGE, account_id=act_id)
        return Result(result.data.data[0] if result.data.data else MinimumBudget(), result.signals)

    async def update_campaign(self, campaign_id: str, *, status: str | None = None, name: str | None = None,
                              daily_budget_minor: int | None = None, lifetime_budget_minor: int | None = None,
                              act_id: str | None = None, validate_only: bool = False) -> Result[bool]:
        """Change the given fields of a campaign; returns Meta's ``success``.

        Each change is an idempotent "set to X". Pass ``act_id`` so that a throttle names the right account
        (a campaign path does not say). ``validate_only`` asks Meta to check the write and apply nothing
        (``execution_options=["validate_only"]``): a refusal raises as the write would. Raises ValueError
        when nothing is to change. A budget Meta refuses (under the account's minimum, over 1M USD, under
        what the campaign has spent, code 100) raises ``FatalProviderError`` with Meta's words for a person.
        """
        changes = {"status": status, "name": name, "daily_budget": daily_budget_minor,
                   "lifetime_budget": lifetime_budget_minor}
        data = {key: str(value) for key, value in changes.items() if value is not None}
        if not data:
            raise ValueError("update_campaign needs at least one change")
        if validate_only:
            data["execution_options"] = json.dumps(["validate_only"])
        result = await self._graph.post(campaign_id, schemas.SUCCESS, data, account_id=act_id)
        return Result(result.data.success, result.signals)

    async def revoke_permissions(self) -> Result[bool]:
        """Deauthorize our app for the token's user (``DELETE /me/permissions``): Meta answers
        ``{"success": true}`` and every token of the app for that user stops working (190 after)."""
        result = await self._graph.call("DELETE", self._graph.url("me/permissions"), schemas.SUCCESS)
        return Result(result.data.success, result.signals)
