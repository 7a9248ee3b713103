"""The bodies, queries and responses of `/v1/campaigns`: what a campaign may be created or changed with,
checked field by field and across fields, and the campaign as the API shows it.

It says nothing about status changes beyond their shape; ``engine.campaign_status`` owns the rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.campaign_status import Status
from engine.guardrail import Guardrail, PausedReason
from engine.store import campaigns as store
from engine.store.campaign_model import CampaignMetaSync
from http_api.catalog.schemas import (
    NO_NUL,
    Description,
    Name,
    PageQuery,
    Targeting,
    Url,
    age_problem,
    patch_changes,
)
from http_api.pagination import Pagination

__all__ = [
    "Campaign",
    "CampaignCreate",
    "CampaignList",
    "CampaignPatch",
    "CampaignQuery",
    "CreativeAssets",
    "GoalSpec",
    "GuardrailPatch",
    "GuardrailSpec",
    "window_problem",
]

Objective = Annotated[
    Literal["streams", "awareness", "traffic", "engagement", "conversions"],
    Meta(description=(
        "What Meta optimizes for. `streams`: link clicks that land on the track in Spotify (what the label "
        "is after); `awareness`: reach; `traffic`: any link click; `engagement`: likes, comments, shares; "
        "`conversions`: a tracked event such as a pre-save."
    )),
]
# The length bound is not redundant: Python's "$" would let "USD\n" in, and char(3) would refuse it.
Currency = Annotated[
    str, Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="An ISO 4217 currency code",
              examples=["USD", "EUR"]),
]
# The column is numeric(14, 2); a cent is the smallest amount Meta can spend, a billion far beyond any label.
Budget = Annotated[
    float, Meta(ge=0.01, le=1_000_000_000, description="The total budget, in `currency` (0.01 to 1e9)")
]
# Meta's ads started in 2007; a date outside these years is a typo (and the far edges of ``datetime``
# would overflow when shifted to UTC on their way to PostgreSQL).
_FIRST_YEAR, _LAST_YEAR = 2000, 2100
Timestamp = Annotated[
    datetime, Meta(tz=True, description="An RFC 3339 date-time with a timezone offset, years 2000 to 2100",
                   # the year as written, which is what _years_problem checks
                   extra_json_schema={"pattern": "^(?:20[0-9]{2}|2100)-"})
]
SortKey = Literal["createdAt", "updatedAt", "name", "startDate", "endDate", "budget", "status"]


class CreativeAssets(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """What the ad shows. Every asset is optional while the campaign is a draft."""

    image_url: Url | None = None
    video_url: Url | None = None
    headline: Annotated[str, Meta(max_length=255, pattern=NO_NUL)] | None = None
    description: Description | None = None


class GoalSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A target the alert engine watches: it fires ``goal.reached`` once the campaign's total for
    ``metric`` reaches ``target``."""

    metric: Literal["streams", "clicks", "impressions"]
    target: Annotated[int, Meta(gt=0, le=10**15)]


Goals = Annotated[list[GoalSpec], Meta(max_length=3, description="At most one goal per metric")]
GuardrailPercent = Annotated[int, Meta(ge=1, le=1000, description=(
    "The share of the budget, in %, at which the campaign is paused (1 to 1000); null: the server's "
    "`[rules] guardrail_percent`, 100 unless configured"))]


class GuardrailSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The budget guardrail (an extension of the reference): once `budgetSpent` reaches `percent` % of the
    budget, an active campaign is paused, here and on its linked Meta campaign, and may not be launched
    again until the budget or the percent is raised or the guardrail is turned off. On by default."""

    enabled: bool = True
    percent: GuardrailPercent | None = None


class GuardrailPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The guardrail's fields to change; an absent one stays as it is, a null `percent` goes back to the
    server's default."""

    enabled: bool | UnsetType = UNSET
    percent: GuardrailPercent | UnsetType | None = UNSET

    def changes(self) -> dict[str, object]:
        """The stored columns to set."""
        return {column: value for column, value in (("guardrail_enabled", self.enabled),
                                                    ("guardrail_percent", self.percent)) if value is not UNSET}


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A new campaign; it starts as a draft. ``endDate`` must be after ``startDate``. A ``trackId`` may
    be added later, but the campaign cannot launch without one."""

    name: Name
    budget: Budget
    start_date: Timestamp
    end_date: Timestamp
    objective: Objective = "streams"
    currency: Currency = "USD"
    description: Description | None = None
    track_id: uuid.UUID | None = None
    target_audience: Targeting = msgspec.field(default_factory=Targeting)
    creative_assets: CreativeAssets = msgspec.field(default_factory=CreativeAssets)
    goals: Goals = []
    budget_guardrail: GuardrailSpec = msgspec.field(default_factory=GuardrailSpec)

    def __post_init__(self) -> None:
        problem = (
            _years_problem(startDate=self.start_date, endDate=self.end_date)
            or window_problem(self.start_date, self.end_date)
            or age_problem("targetAudience", self.target_audience)
            or _goals_problem(self.goals)
        )
        if problem:
            raise ValueError(problem)

    def new_campaign(self) -> store.NewCampaign:
        return store.NewCampaign(
            name=self.name, objective=self.objective, budget=self.budget, currency=self.currency,
            start_date=self.start_date, end_date=self.end_date, description=self.description,
            track_id=self.track_id, target_audience=msgspec.to_builtins(self.target_audience),
            creative_assets=msgspec.to_builtins(self.creative_assets),
            guardrail_enabled=self.budget_guardrail.enabled, guardrail_percent=self.budget_guardrail.percent,
        )  # fmt: skip

    def goal_rows(self) -> list[store.Goal]:
        return [store.Goal(metric=goal.metric, target=goal.target) for goal in self.goals]


class CampaignPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The fields to change; absent fields stay as they are, ``null`` clears ``description`` or
    ``trackId``. ``goals`` replaces every goal; ``budgetGuardrail`` changes the fields it gives. ``status``
    moves the campaign through the same lifecycle as the launch, pause and archive routes (``completed`` is
    reached only this way); the current status is accepted and changes nothing. Fields change before the
    status, so one PATCH may raise the budget and resume a campaign its guardrail paused."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    track_id: uuid.UUID | UnsetType | None = UNSET
    objective: Objective | UnsetType = UNSET
    budget: Budget | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    start_date: Timestamp | UnsetType = UNSET
    end_date: Timestamp | UnsetType = UNSET
    target_audience: Targeting | UnsetType = UNSET
    creative_assets: CreativeAssets | UnsetType = UNSET
    goals: Goals | UnsetType = UNSET
    budget_guardrail: GuardrailPatch | UnsetType = UNSET
    status: Status | UnsetType = UNSET

    def __post_init__(self) -> None:
        # endDate after startDate is checked by the route, against the stored date the body leaves as is.
        problem = (
            _years_problem(startDate=self.start_date, endDate=self.end_date)
            or age_problem("targetAudience", self.target_audience)
            or (None if isinstance(self.goals, UnsetType) else _goals_problem(self.goals))
        )
        if problem:
            raise ValueError(problem)

    def changes(self) -> dict[str, object]:
        """The stored fields to set (the store's names and JSON shapes); not ``goals``, not ``status``."""
        guardrail = {} if isinstance(self.budget_guardrail, UnsetType) else self.budget_guardrail.changes()
        return patch_changes(self, store.UPDATABLE_FIELDS) | guardrail

    def goal_rows(self) -> list[store.Goal] | None:
        if isinstance(self.goals, UnsetType):
            return None
        return [store.Goal(metric=goal.metric, target=goal.target) for goal in self.goals]


class CampaignQuery(PageQuery):
    """A page of campaigns; ``search`` matches the name, ``status`` keeps one status, and ties in
    ``sort`` are broken by id so pages never overlap."""

    status: Status | UnsetType = UNSET
    sort: SortKey = "createdAt"
    order: Literal["asc", "desc"] = "desc"


class Campaign(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A campaign as the API shows it. Money is a float to the cent, ``goals`` are ordered by metric, and
    ``budgetSpent`` and ``metrics`` are running totals the engine keeps. The ``meta*`` fields are its link to
    a Meta campaign, null when it has none."""

    id: uuid.UUID
    name: str
    description: str | None
    status: Status
    objective: Objective
    track_id: uuid.UUID | None
    track: store.TrackSummary | None
    budget: float
    currency: str
    budget_spent: float
    start_date: datetime
    end_date: datetime
    target_audience: Targeting
    creative_assets: CreativeAssets
    goals: list[store.Goal]
    metrics: store.CampaignMetrics
    launched_at: datetime | None
    created_at: datetime
    updated_at: datetime
    meta_campaign_id: Annotated[str | None, Meta(description=(
        "The Meta campaign this campaign is linked to (`POST /v1/meta/campaigns`); null when unlinked. "
        "Launch and pause are then pushed to Meta first."))] = None
    meta_ad_account_id: Annotated[str | None, Meta(description="The Meta ad account (`act_…`) of "
                                                               "`metaCampaignId`; null when unlinked")] = None
    meta_effective_status: Annotated[str | None, Meta(description=(
        "The Meta campaign's `effective_status` as we last set or read it; null when unlinked"))] = None
    budget_guardrail: Annotated[Guardrail, Meta(description=(
        "An extension: the budget guardrail. Once `budgetSpent` reaches `percent` % of `budget` (null: the "
        "server's default, 100), an active campaign is paused here and, within one Meta poll, on Meta; it "
        "cannot be launched again until the budget or the percent is raised or `enabled` is false."))] = Guardrail()
    paused_reason: Annotated[PausedReason | None, Meta(description=(
        "An extension: why the campaign is paused and since when; `cause` is `{\"userId\": ...}` (a member "
        "paused it) or `{\"guardrail\": {percent, budget, budgetSpent, currency}}` (its budget guardrail). "
        "Null unless paused."))] = None
    meta_sync: Annotated[CampaignMetaSync | None, Meta(description=(
        "Read-only: our pushes to the linked Meta campaign. `budgetMinor` is the lifetime budget Meta last"
        " accepted from us, in minor units of `currency` (the ad account's; 8000 USD is 80.00), at `syncedAt`;"
        " `error` is the last push refused (by Meta, or by us: another currency, a daily budget), with its"
        " `action` (`set_budget` at link, on a budget change or a rule's, `launch` with the status,"
        " `set_status` a rule's or the guardrail's pause or resume), `code`, `message` and `at`, cleared by the"
        " next success. Null when unlinked or nothing was pushed yet."))] = None

    @classmethod
    def of(cls, row: store.Campaign) -> Campaign:
        """The store's row with its JSON columns typed. They were written from the same Structs, so the
        conversion cannot fail on a row this API stored."""
        return msgspec.convert(row, cls, from_attributes=True)


class CampaignList(msgspec.Struct, frozen=True, kw_only=True):
    campaigns: list[Campaign]
    pagination: Pagination


def window_problem(start: datetime, end: datetime) -> str | None:
    """``"endDate: ..."`` unless ``end`` is after ``start``."""
    if end > start:
        return None
    return f"endDate: must be after startDate ({start.isoformat()})"


def _years_problem(**dates: datetime | UnsetType) -> str | None:
    for field, value in dates.items():
        if isinstance(value, datetime) and not _FIRST_YEAR <= value.year <= _LAST_YEAR:
            return f"{field}: must fall in the years {_FIRST_YEAR} to {_LAST_YEAR}"
    return None


def _goals_problem(goals: list[GoalSpec]) -> str | None:
    metrics = [goal.metric for goal in goals]
    if len(set(metrics)) < len(metrics):
        return "goals: at most one goal per metric"
    return None
