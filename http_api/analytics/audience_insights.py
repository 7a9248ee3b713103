"""An audience's Meta insights: the age, gender and country breakdowns of the Meta campaigns whose
``targetAudience.audienceId`` names the audience, added up over those campaigns for a period.

It owns the response Structs and the adding up (per bucket, across campaigns, in one currency or not at
all). The route itself is ``http_api.analytics.analytics``'s; the Meta client and its failures are
``http_api.providers.clients``' (409 when Meta is not connected, 502 when Meta fails). We read Meta live on each
request rather than from stored facts: the stored facts have no breakdowns.

Limits: a period spans at most ``SYNC_MAX_DAYS`` days and starts at most ``MAX_MONTHS_BACK`` months back
(``http_api.providers.meta``'s limits of a synchronous insights read). Each read asks for one row per bucket
(``time_increment=all_days``), so Meta's "reduce the data" answer is not expected; if it comes anyway it
is a 502 with ``Retry-After``, as any retryable Meta failure, and we start no async report run.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from adapters.meta.schemas import InsightRow
from engine.analytics.model import Period
from engine.money import currency_places
from engine.store import audiences, campaign_meta
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.providers.clients import meta_client
from http_api.providers.meta import MAX_MONTHS_BACK, SYNC_MAX_DAYS, months_back
from http_api.routing import Call

__all__ = ["AUDIENCE_INSIGHTS_DESCRIPTION", "AudienceBucket", "AudienceInsights", "audience_insights",
           "check_period"]

_Dimension = Literal["age", "gender", "country"]
_DIMENSIONS: tuple[_Dimension, ...] = ("age", "gender", "country")

AUDIENCE_INSIGHTS_DESCRIPTION = (
    "Impressions, clicks and spend of the audience's campaigns (the organization's campaigns linked to Meta"
    " whose `targetAudience.audienceId` is this audience) from `startDate` to `endDate` (default: the last"
    " 30 days up to today; days of each ad account's timezone), split by age, gender and country and added"
    " up across the campaigns. Read from Meta on each request. Buckets are ordered by impressions, most"
    " first; `share` is the bucket's part of the breakdown's impressions (null when there are none). `spend`"
    " is in `currency` when every row is in one currency; when the ad accounts use several, `currency` and"
    " every `spend` are null and `spendNote` says why (spend in different currencies is not added). An"
    " audience no linked campaign targets answers empty lists. 404 when the organization has no such"
    f" audience; 400 names `endDate` for a period over {SYNC_MAX_DAYS} days and `startDate` for one starting"
    f" more than {MAX_MONTHS_BACK} months back.")


class AudienceBucket(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One value of a breakdown (an age range such as ``25-34``, a gender, an ISO country code), summed
    over the audience's campaigns."""

    value: str
    impressions: int
    clicks: int
    spend: Annotated[str | None, Meta(description="Major units of `currency`; null when it is null")]
    share: Annotated[float | None, Meta(description="impressions / the breakdown's impressions")]


class AudienceInsights(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The audience's campaigns and their Meta delivery split by age, gender and country."""

    audience_id: uuid.UUID
    period: Period
    campaigns: list[uuid.UUID]
    currency: str | None
    spend_note: str | None
    age: list[AudienceBucket]
    gender: list[AudienceBucket]
    country: list[AudienceBucket]


class _Tally(msgspec.Struct):
    impressions: int = 0
    clicks: int = 0
    spend: Decimal = msgspec.field(default_factory=Decimal)


def check_period(period: Period, today: date) -> None:
    """400 unless Meta can answer ``period`` synchronously (see the module docstring)."""
    if (period.end - period.start).days + 1 > SYNC_MAX_DAYS:
        raise _invalid("endDate", f"a period may span at most {SYNC_MAX_DAYS} days (Meta's synchronous reads)")
    oldest = months_back(today, MAX_MONTHS_BACK)
    if period.start < oldest:
        raise _invalid("startDate", f"Meta keeps {MAX_MONTHS_BACK} months of insights: startDate must be"
                                    f" {oldest.isoformat()} or later")


async def audience_insights(call: Call, audience_id: uuid.UUID, period: Period) -> AudienceInsights:
    """The audience's breakdowns over ``period``; ``ApiError`` 404 when it is not the organization's.

    We read each campaign's three breakdowns one call after another: the campaigns of one audience are a
    handful, and parallel reads would only spend the ad account's rate budget in a burst.

    Error handling: Meta not connected (only asked when some campaign targets the audience) is 409, and
    Meta's failures are 502, both ``INTEGRATION_ERROR`` from ``meta_client``.
    """
    org_id = call.caller.organization_id
    if await audiences.get_audience(call.db, org_id, audience_id) is None:
        raise not_found("audience")
    links = await campaign_meta.campaigns_targeting_audience(call.db, org_id, audience_id)
    rows: dict[_Dimension, list[InsightRow]] = {dimension: [] for dimension in _DIMENSIONS}
    if links:
        async with meta_client(call) as (client, _):
            for link in links:
                for dimension in _DIMENSIONS:
                    rows[dimension] += (await client.campaign_insights(
                        link.meta_campaign_id, period.start, period.end, time_increment="all_days",
                        breakdowns=[dimension], act_id=link.meta_ad_account_id)).data
    currencies = {row.account_currency for found in rows.values() for row in found}
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    return AudienceInsights(
        audience_id=audience_id, period=period, campaigns=[link.campaign_id for link in links],
        currency=currency, spend_note=_spend_note(currencies) if currency is None else None,
        age=_buckets(rows["age"], "age", currency), gender=_buckets(rows["gender"], "gender", currency),
        country=_buckets(rows["country"], "country", currency))


def _buckets(rows: list[InsightRow], dimension: _Dimension, currency: str | None) -> list[AudienceBucket]:
    tallies: dict[str, _Tally] = {}
    for row in rows:
        tally = tallies.setdefault(_value(row, dimension), _Tally())
        tally.impressions += row.impressions
        tally.clicks += row.clicks
        tally.spend += row.spend
    total = sum(tally.impressions for tally in tallies.values())
    buckets = [
        AudienceBucket(value=value, impressions=tally.impressions, clicks=tally.clicks,
                       spend=None if currency is None else _money(tally.spend, currency),
                       share=tally.impressions / total if total else None)
        for value, tally in tallies.items()
    ]
    return sorted(buckets, key=lambda bucket: (-bucket.impressions, bucket.value))


def _value(row: InsightRow, dimension: _Dimension) -> str:
    value = {"age": row.age, "gender": row.gender, "country": row.country}[dimension]
    return value or "unknown"  # Meta sends every bucket's value when asked; "unknown" is its own word too


def _money(amount: Decimal, currency: str) -> str:
    """``amount`` with the currency's decimals ("12.50" USD, "3000" JPY), unless that would round it."""
    places = currency_places(currency)
    exact = amount.quantize(Decimal(1).scaleb(-places))
    return str(exact if exact == amount else amount)


def _spend_note(currencies: set[str | None]) -> str | None:
    if not currencies:
        return None  # no delivery at all: nothing to add up
    named = ", ".join(sorted(c for c in currencies if c is not None)) or "none named"
    return (f"the campaigns' ad accounts spend in several currencies ({named}): spend in different currencies"
            " is not added, so it is null here; each campaign's spend is in GET"
            " /v1/meta/campaigns/{metaCampaignId}/insights")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, [ErrorDetail(field, message)])
