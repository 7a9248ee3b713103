"""`/v1/analytics`: a campaign's, a track's and the organization's analytics, read from stored facts
(``engine.analytics`` computes them; definitions in docs/analytics.md), for the caller's organization;
and an audience's Meta breakdowns, read from Meta (``http_api.analytics.audience_insights``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import msgspec
from msgspec import UNSET, UnsetType

from engine.analytics.campaign import MAX_PERIOD_DAYS, AnalyticsRules, PeriodError, campaign_analytics
from engine.analytics.model import CampaignAnalytics, Granularity, Period
from engine.analytics.overview import Overview, overview
from engine.analytics.track import TrackAnalytics, track_analytics
from engine.store import stream_events
from http_api.analytics.audience_insights import (
    AUDIENCE_INSIGHTS_DESCRIPTION,
    AudienceInsights,
    audience_insights,
    check_period,
)
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.fields import Day, day_of
from http_api.providers.clients import PROVIDER_ERRORS
from http_api.routing import Access, Call, Router

__all__ = ["CampaignAnalyticsQuery", "PeriodQuery", "analytics_router", "analytics_rules", "now_of", "overview_period",
           "track_period"]

OVERVIEW_DEFAULT_DAYS = 30
TRACK_DEFAULT_DAYS = 90
AUDIENCE_DEFAULT_DAYS = 30


class PeriodQuery(msgspec.Struct, kw_only=True, rename="camel"):
    """The days to cover (both included): dates, or ISO 8601 datetimes naming their dates."""

    start_date: Day | UnsetType = UNSET
    end_date: Day | UnsetType = UNSET

    def __post_init__(self) -> None:
        for name, value in (("startDate", self.start_date), ("endDate", self.end_date)):
            try:
                _given(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None

    def start(self) -> date | None:
        return _given(self.start_date)

    def end(self) -> date | None:
        return _given(self.end_date)


class CampaignAnalyticsQuery(PeriodQuery, kw_only=True, rename="camel"):
    """The days to show (default: the campaign's days up to today) and the series' granularity."""

    granularity: Granularity = "day"


def analytics_rules(ctx: ApiContext) -> AnalyticsRules:
    return AnalyticsRules.from_settings(ctx.settings.analytics)


def now_of(call: Call) -> datetime:
    return call.ctx.domain_now()


def _given(value: str | UnsetType) -> date | None:
    return None if isinstance(value, UnsetType) else day_of(value)


def _period(query: PeriodQuery, today: date, default_days: int) -> Period:
    end = query.end() or today
    start = query.start() or end - timedelta(days=default_days - 1)
    if end < start:
        raise _invalid("endDate", "endDate must not be before startDate")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise _invalid("endDate", f"a period may span at most {MAX_PERIOD_DAYS} days")
    return Period(start=start, end=end)


def overview_period(today: date) -> Period:
    """The overview's default period: the last 30 days, ``today`` included."""
    return _period(PeriodQuery(), today, OVERVIEW_DEFAULT_DAYS)


def track_period(today: date) -> Period:
    """A track's analytics' default period: the last 90 days, ``today`` included."""
    return _period(PeriodQuery(), today, TRACK_DEFAULT_DAYS)


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, [ErrorDetail(field, message)])


_CAMPAIGN_DESCRIPTION = (
    "Spend, impressions and clicks are the linked Meta campaign's, per day of the ad account's timezone;"
    " streams are the campaign's track's, per UTC day (`timezones` names both). `attribution` states the"
    " model (streams during the campaign against the baseline of the days before it), its inputs and a"
    " confidence flag. Definitions: docs/analytics.md.")


def analytics_router(ctx: ApiContext) -> Router:
    router = Router("analytics", ctx, tag="Analytics")
    rules = analytics_rules(ctx)

    @router.route("GET", "/v1/analytics/campaigns/<uuid:campaign_id>", summary="Get a campaign's analytics",
                  access=Access.VIEWER, query=CampaignAnalyticsQuery, response=CampaignAnalytics,
                  description=_CAMPAIGN_DESCRIPTION)
    async def campaign(call: Call, campaign_id: uuid.UUID) -> CampaignAnalytics:
        query: CampaignAnalyticsQuery = call.query
        try:
            result = await campaign_analytics(
                call.db, call.caller.organization_id, campaign_id, start=query.start(),
                end=query.end(), granularity=query.granularity, rules=rules, now=now_of(call))
        except PeriodError as exc:
            raise _invalid(exc.field, str(exc)) from None
        if result is None:
            raise not_found("campaign")
        return result

    @router.route("GET", "/v1/analytics/overview", summary="Get the organization's overview",
                  access=Access.VIEWER, query=PeriodQuery, response=Overview,
                  description="Totals of the period (default: the last 30 days) and their change against the"
                              " previous period of the same length. Spend is per currency; streams are every"
                              " track's; incremental streams are the sum of the campaigns' own attributions"
                              " (those without a baseline left out and counted), and cost per incremental"
                              " stream is per currency. Definitions: docs/analytics.md.")
    async def organization_overview(call: Call) -> Overview:
        now = now_of(call)
        period = _period(call.query, now.date(), OVERVIEW_DEFAULT_DAYS)
        return await overview(call.db, call.caller.organization_id, period, rule=rules.rule(), now=now)

    @router.route("GET", "/v1/analytics/tracks/<uuid:track_id>", summary="Get a track's analytics",
                  access=Access.VIEWER, query=PeriodQuery, response=TrackAnalytics,
                  description="Streams per UTC day in the period (default: the last 90 days) and their"
                              " source (a stream report, else stream events), listeners, Spotify's"
                              " popularity history, its artist's imported audience timeline, the campaigns of"
                              " the track with their attribution, and distributor sales per month and store.")
    async def track(call: Call, track_id: uuid.UUID) -> TrackAnalytics:
        org = call.caller.organization_id
        if track_id not in await stream_events.known_tracks(call.db, org, [track_id]):
            raise not_found("track")
        now = now_of(call)
        period = _period(call.query, now.date(), TRACK_DEFAULT_DAYS)
        return await track_analytics(call.db, org, track_id, period, rules=rules, now=now)

    @router.route("GET", "/v1/analytics/audiences/<uuid:audience_id>/insights",
                  summary="Get an audience's Meta breakdowns by age, gender and country", access=Access.VIEWER,
                  query=PeriodQuery, response=AudienceInsights, errors=(404, *PROVIDER_ERRORS),
                  description=AUDIENCE_INSIGHTS_DESCRIPTION)
    async def audience(call: Call, audience_id: uuid.UUID) -> AudienceInsights:
        today = now_of(call).date()
        period = _period(call.query, today, AUDIENCE_DEFAULT_DAYS)
        check_period(period, today)
        return await audience_insights(call, audience_id, period)

    return router


