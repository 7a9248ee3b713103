"""The bodies, queries and responses of `/v1/meta/*`: Meta's ad accounts, campaigns and insights as the API
shows them, and what a Meta campaign may be created or changed with.

Money crosses this boundary in MAJOR units as decimal strings ("50.00", "3000"), in the ad account's
currency; ``adapters.meta.money`` turns it into Meta's minor units. It owns shapes and per-field checks,
not the Meta rules that need the account (the currency's precision): the routes check those.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from adapters.meta.money import currency_offset, to_major
from adapters.meta.schemas import AdAccount, Campaign, InsightRow
from http_api.pagination import ListQuery, Pagination

__all__ = [
    "AD_ACCOUNT_STATUSES",
    "EFFECTIVE_STATUSES",
    "INSIGHTS_DEFAULT_DAYS",
    "AdAccountId",
    "InsightRowOut",
    "Insights",
    "InsightsPending",
    "InsightsQuery",
    "MetaAccount",
    "MetaAccountList",
    "MetaCampaign",
    "MetaCampaignCreate",
    "MetaCampaignLinked",
    "MetaCampaignList",
    "MetaCampaignPatch",
    "MetaCampaignQuery",
    "major",
]

AdAccountId = Annotated[str, Meta(pattern=r"^act_[0-9]{1,30}$", max_length=34,
                                  description="A Meta ad account id", examples=["act_1234567890"])]
# PROVIDERS.md A3: the outcome-based objectives; the legacy ones are deprecated since v17.0.
Objective = Literal["OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS",
                    "OUTCOME_SALES", "OUTCOME_APP_PROMOTION"]
BidStrategy = Literal["LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP", "LOWEST_COST_WITH_MIN_ROAS"]
SpecialAdCategory = Literal["NONE", "EMPLOYMENT", "HOUSING", "CREDIT", "ISSUES_ELECTIONS_POLITICS",
                            "ONLINE_GAMBLING_AND_GAMING", "FINANCIAL_PRODUCTS_SERVICES"]
# PROVIDERS.md A3: campaign effective_status values.
EFFECTIVE_STATUSES = ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES")
AD_ACCOUNT_STATUSES = {1: "ACTIVE", 2: "DISABLED", 3: "UNSETTLED", 7: "PENDING_RISK_REVIEW",
                       8: "PENDING_SETTLEMENT", 9: "IN_GRACE_PERIOD", 100: "PENDING_CLOSURE", 101: "CLOSED"}
BREAKDOWNS = ("age", "gender", "country")
INSIGHTS_DEFAULT_DAYS = 30  # without since/until: Meta's own default period (date_preset last_30d)

# A string as well as a number: money in JSON floats loses cents ("0.1 + 0.2"), so we take it as sent.
Money = Annotated[Decimal, Meta(description=(
    "An amount in MAJOR units of the ad account's currency, as a decimal string or a number: \"50.00\" USD, "
    "\"3000\" JPY. More decimals than the currency has (cents for JPY) are refused (400)."),
    examples=["50.00"], extra_json_schema={
        # _money_problem's range, said for both forms: the pattern binds strings, the bounds numbers.
        "pattern": r"^(?:[1-9][0-9]{0,11}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9])|1000000000000(?:\.00?)?)"
                   r"$(?![\s\S])",
        "exclusiveMinimum": 0, "maximum": 10**12})]
_MAX_MONEY = Decimal(10) ** 12  # far beyond any label's budget; Meta's int64 of minor units is the hard cap


def major(minor: int | None, currency: str | None) -> str | None:
    """Minor units as a major-unit decimal string with the currency's decimals: 5050 USD → "50.50"."""
    if minor is None or currency is None:
        return None
    places = 0 if currency_offset(currency) == 1 else 2
    return f"{to_major(minor, currency):.{places}f}"


def _money_problem(name: str, value: Decimal | UnsetType | None) -> str | None:
    if not isinstance(value, Decimal):
        return None
    if not value.is_finite() or not 0 < value <= _MAX_MONEY:
        return f"{name}: must be a number above 0 and at most 1e12"
    return None


class MetaAccount(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An ad account of the connected Meta user; ``amountSpent`` is lifetime spend in major units."""

    id: str
    account_id: str | None
    name: str | None
    status: str | None
    currency: str | None
    timezone: str | None
    amount_spent: str | None

    @classmethod
    def of(cls, account: AdAccount) -> MetaAccount:
        status = account.account_status
        return cls(id=account.id, account_id=account.account_id, name=account.name,
                   status=None if status is None else AD_ACCOUNT_STATUSES.get(status, str(status)),
                   currency=account.currency, timezone=account.timezone_name,
                   amount_spent=major(account.amount_spent, account.currency))


class MetaAccountList(msgspec.Struct, frozen=True, kw_only=True):
    accounts: list[MetaAccount]
    pagination: Pagination


class MetaCampaign(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A Meta campaign; budgets in major units of ``currency``; ``campaignId`` is our campaign linked to it."""

    id: str
    ad_account_id: str | None
    name: str | None
    objective: str | None
    status: str | None
    effective_status: str | None
    daily_budget: str | None
    lifetime_budget: str | None
    currency: str | None
    special_ad_categories: list[str]
    campaign_id: uuid.UUID | None

    @classmethod
    def of(cls, campaign: Campaign, currency: str | None, linked: uuid.UUID | None) -> MetaCampaign:
        account = f"act_{campaign.account_id}" if campaign.account_id else None
        return cls(id=campaign.id, ad_account_id=account, name=campaign.name, objective=campaign.objective,
                   status=campaign.status, effective_status=campaign.effective_status,
                   daily_budget=major(campaign.daily_budget, currency),
                   lifetime_budget=major(campaign.lifetime_budget, currency), currency=currency,
                   special_ad_categories=list(campaign.special_ad_categories), campaign_id=linked)


class MetaCampaignList(msgspec.Struct, frozen=True, kw_only=True):
    campaigns: list[MetaCampaign]
    pagination: Pagination


class MetaCampaignQuery(ListQuery, kw_only=True, rename="camel"):
    """One ad account's campaigns (every account's without ``adAccountId``), optionally only those whose
    ``effective_status`` is in the comma-separated ``effectiveStatus``."""

    ad_account_id: AdAccountId | UnsetType = UNSET
    effective_status: Annotated[str, Meta(
        pattern=r"^(ACTIVE|PAUSED|DELETED|ARCHIVED|IN_PROCESS|WITH_ISSUES)(,(ACTIVE|PAUSED|DELETED|ARCHIVED"
                r"|IN_PROCESS|WITH_ISSUES))*$",
        description="Comma-separated: " + ", ".join(EFFECTIVE_STATUSES), examples=["ACTIVE,PAUSED"],
    )] | UnsetType = UNSET

    def statuses(self) -> list[str] | None:
        if isinstance(self.effective_status, UnsetType):
            return None
        return sorted(set(self.effective_status.split(",")))


class MetaCampaignCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A Meta campaign for one of our campaigns, created PAUSED (our launch route starts it).

    ``budget`` goes on the campaign (Meta's campaign budget optimization) as a ``budgetType`` budget.
    ``bidStrategy``: only LOWEST_COST_WITHOUT_CAP for now; the capped strategies need a bid amount
    on ad sets, which we do not create (400 names the field).
    """

    campaign_id: uuid.UUID
    ad_account_id: AdAccountId
    objective: Objective
    budget: Money
    bid_strategy: BidStrategy = "LOWEST_COST_WITHOUT_CAP"
    special_ad_categories: Annotated[list[SpecialAdCategory], Meta(max_length=7)] = []
    budget_type: Literal["lifetime", "daily"] = "lifetime"

    def __post_init__(self) -> None:
        problem = _money_problem("budget", self.budget)
        if problem:
            raise ValueError(problem)


class MetaCampaignLinked(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The Meta campaign just created, and the id of our campaign now linked to it."""

    campaign_id: uuid.UUID
    meta_campaign: MetaCampaign


class MetaCampaignPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The fields of a Meta campaign to change; at least one. Budgets in major units of the account currency."""

    status: Literal["ACTIVE", "PAUSED", "ARCHIVED"] | UnsetType = UNSET
    name: Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[^\x00]*$")] | UnsetType = UNSET
    daily_budget: Money | UnsetType = UNSET
    lifetime_budget: Money | UnsetType = UNSET

    def __post_init__(self) -> None:
        problem = _money_problem("dailyBudget", self.daily_budget) or _money_problem(
            "lifetimeBudget", self.lifetime_budget)
        if not problem and isinstance(self.daily_budget, Decimal) and isinstance(self.lifetime_budget, Decimal):
            problem = "lifetimeBudget: give dailyBudget or lifetimeBudget, not both"
        if not problem and all(isinstance(v, UnsetType) for v in (self.status, self.name, self.daily_budget,
                                                                  self.lifetime_budget)):
            problem = "status: give at least one of status, name, dailyBudget, lifetimeBudget"
        if problem:
            raise ValueError(problem)


class InsightsQuery(msgspec.Struct, kw_only=True, rename="camel"):
    """Daily insights of a Meta campaign from ``since`` to ``until`` (inclusive, the account's timezone).

    ``reportRunId`` resumes waiting for the async report run a 202 answer named (same other parameters).
    """

    since: date | UnsetType = UNSET
    until: date | UnsetType = UNSET
    breakdowns: Annotated[str, Meta(pattern=r"^(age|gender|country)(,(age|gender|country))*$",
                                    description="Comma-separated: age, gender, country",
                                    examples=["age,gender"])] | UnsetType = UNSET
    level: Literal["campaign"] = "campaign"
    report_run_id: Annotated[str, Meta(pattern=r"^[0-9]{1,30}$", description="From a 202 answer")] | UnsetType \
        = UNSET

    def period(self, today: date) -> tuple[date, date]:
        """``since`` and ``until``; ``until`` defaults to ``today`` and ``since`` to the 30 days ending at
        ``until`` (Meta's own default, ``last_30d``)."""
        until = today if isinstance(self.until, UnsetType) else self.until
        since = until - timedelta(days=INSIGHTS_DEFAULT_DAYS - 1) if isinstance(self.since, UnsetType) else self.since
        return since, until

    def breakdown_list(self) -> tuple[str, ...]:
        if isinstance(self.breakdowns, UnsetType):
            return ()
        return tuple(name for name in BREAKDOWNS if name in self.breakdowns.split(","))


class ActionOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    action_type: str
    value: str


class InsightRowOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One day (and breakdown bucket). Metrics as Meta gives them; ``spend`` in major units of ``currency``;
    a metric Meta did not send is null."""

    date: date
    impressions: int
    clicks: int
    spend: str
    currency: str | None
    ctr: str | None  # percent
    cpc: str | None
    cpm: str | None
    actions: list[ActionOut]
    age: str | None
    gender: str | None
    country: str | None

    @classmethod
    def of(cls, row: InsightRow) -> InsightRowOut:
        return cls(date=row.date_start, impressions=row.impressions, clicks=row.clicks, spend=str(row.spend),
                   currency=row.account_currency, ctr=_text(row.ctr), cpc=_text(row.cpc), cpm=_text(row.cpm),
                   actions=[ActionOut(action_type=a.action_type, value=str(a.value)) for a in row.actions],
                   age=row.age, gender=row.gender, country=row.country)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Insights(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Every row of the range, oldest day first. ``source`` says whether Meta answered at once (``sync``)
    or through an async report run (``async``, then ``reportRunId`` names it)."""

    meta_campaign_id: str
    since: date | UnsetType = UNSET
    until: date | UnsetType = UNSET
    breakdowns: list[str]
    source: Literal["sync", "async"]
    report_run_id: str | None
    rows: list[InsightRowOut]


class InsightsPending(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Meta's async report run was not done within the request's deadline: ask again with ``reportRunId``
    after ``Retry-After`` seconds."""

    status: Literal["running"] = "running"
    report_run_id: str
    async_status: str
    percent_complete: int
