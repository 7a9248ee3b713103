"""``MetaAds``: ``engine.providers.AdsProvider`` for one Meta user token, over a ``MetaClient``.

It owns what the Meta account poller must not know: Meta's rate domains for each call, its account ids
(``act_<digits>``), its ``effective_status`` words, a campaign's budgets and the writes to it
(``validate_only`` is Meta's ``execution_options``), and the turning of insights rows into
``CampaignFigure``s (spend from major to minor units with the currency's offset). Like the client, it never
sleeps and never retries; the schedule, the pacing and the samples are the actor's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from adapters.meta.client import MetaClient
from adapters.meta.money import currency_offset
from adapters.meta.usage import APP_DOMAIN, INSIGHTS_APP_DOMAIN, account_domain, normalize_account_id
from engine.provider import Result
from engine.providers import AdAccount, CampaignBudget, CampaignFigure

if TYPE_CHECKING:
    import httpx

    from adapters.meta.schemas import InsightRow
    from config import MetaSettings

__all__ = ["MetaAds", "meta_ads"]

log = logging.getLogger(__name__)

_SPENDING = "ACTIVE"
_PAUSED = "PAUSED"


class MetaAds:
    """The ad accounts of the token ``client`` holds. Construction does no I/O.

    Error handling: every call raises what ``MetaClient`` raises; a day range too big for one synchronous
    insights call is a ``ReduceDataError`` (an ``engine.provider.RequestTooLargeError``).
    """

    def __init__(self, client: MetaClient) -> None:
        self._client = client

    def account_id(self, account_id: str) -> str:
        return normalize_account_id(account_id)

    def accounts_domains(self) -> tuple[str, ...]:
        return (APP_DOMAIN,)

    async def ad_accounts(self) -> Result[list[AdAccount]]:
        result = await self._client.ad_accounts()
        accounts = [AdAccount(id=normalize_account_id(a.id), name=a.name, currency=a.currency,
                              timezone_name=a.timezone_name) for a in result.data]
        return Result(accounts, result.signals)

    def figures_domains(self, account_id: str) -> tuple[str, ...]:
        return (APP_DOMAIN, INSIGHTS_APP_DOMAIN, account_domain(account_id, "score"),
                account_domain(account_id, "ads_insights"), account_domain(account_id, "insights"))

    async def daily_figures(self, account: AdAccount, since: date, until: date,
                            campaigns: Collection[str]) -> Result[list[CampaignFigure]]:
        """One insights call at ``level=campaign``, ``time_increment=1``: one row per campaign and day."""
        result = await self._client.campaign_insights(account.id, since, until, level="campaign", time_increment=1)
        return Result(_figures(result.data, account.currency, campaigns), result.signals)

    def campaigns_domains(self, account_id: str) -> tuple[str, ...]:
        return (APP_DOMAIN, account_domain(account_id, "score"), account_domain(account_id, "ads_management"))

    async def campaign_statuses(self, account_id: str) -> Result[dict[str, str | None]]:
        result = await self._client.campaigns(account_id)
        return Result({c.id: c.effective_status for c in result.data}, result.signals)

    def spending(self, status: str | None) -> bool:
        return status == _SPENDING

    async def pause_campaign(self, account_id: str, campaign: str) -> Result[str]:
        result = await self.set_campaign(account_id, campaign, status=_PAUSED)
        return Result(_PAUSED, result.signals)

    async def campaign_budget(self, account_id: str, campaign: str) -> Result[CampaignBudget]:
        result = await self._client.campaign(campaign, act_id=account_id)
        budget = CampaignBudget(daily_minor=result.data.daily_budget, lifetime_minor=result.data.lifetime_budget)
        return Result(budget, result.signals)

    async def set_campaign(self, account_id: str, campaign: str, *, status: str | None = None,
                           lifetime_budget_minor: int | None = None, validate_only: bool = False) -> Result[None]:
        result = await self._client.update_campaign(
            campaign, status=status, lifetime_budget_minor=lifetime_budget_minor, act_id=account_id,
            validate_only=validate_only)
        return Result(None, result.signals)


def meta_ads(meta: MetaSettings) -> Callable[[httpx.AsyncClient, str], MetaAds]:
    """What the composition root hands the Meta account actors: ``(http, access token) -> MetaAds`` on the
    configured Graph API root and version."""

    def build(http: httpx.AsyncClient, token: str) -> MetaAds:
        return MetaAds(MetaClient(http, token, base_url=meta.graph_url, version=meta.api_version))

    return build


def _figures(rows: Sequence[InsightRow], currency: str | None, campaigns: Collection[str]) -> list[CampaignFigure]:
    """Spend, impressions and clicks of each row of ``campaigns``, in that order. Spend is in the account's
    currency, else the row's, else USD."""
    figures: list[CampaignFigure] = []
    for row in rows:
        if row.campaign_id is None or row.campaign_id not in campaigns:
            continue
        unit = currency or row.account_currency or "USD"
        source = f"meta:{row.campaign_id}"
        figures += [
            CampaignFigure(campaign=row.campaign_id, day=row.date_start, metric="spend_minor",
                           value=_minor(row.spend, unit), source=source, currency=unit),
            CampaignFigure(campaign=row.campaign_id, day=row.date_start, metric="impressions",
                           value=row.impressions, source=source),
            CampaignFigure(campaign=row.campaign_id, day=row.date_start, metric="clicks", value=row.clicks,
                           source=source),
        ]
    return figures


def _minor(spend: Decimal, currency: str) -> int:
    """Insights ``spend`` (major units) in minor units. Meta rounds spend to the minor unit; should a row
    ever carry more digits, we round half-even and say so rather than crash the poller on one row."""
    minor = spend * currency_offset(currency)
    whole = minor.to_integral_value(rounding=ROUND_HALF_EVEN)
    if whole != minor:
        log.warning("spend %s %s is finer than the minor unit; rounded", spend, currency)
    return int(whole)
