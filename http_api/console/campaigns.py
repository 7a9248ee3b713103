"""The console's campaign pages: ``GET /app/campaigns`` lists them as ``GET /v1/campaigns`` does (the same
query, limits and store call), and ``GET /app/campaigns/<id>`` shows one: its budget and dates, its spend and
streams per day with the baseline and its window (the engine's ``campaign_analytics``, as
``GET /v1/analytics/campaigns/{id}`` answers), the attribution, its latest alerts and the rules' history on
it, with the lifecycle buttons (``campaign_actions``). They read; they change nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import msgspec
from quart import Blueprint, Response, render_template, request

from engine.analytics.campaign import PeriodError, campaign_analytics
from engine.analytics.model import CampaignAnalytics
from engine.campaign_status import allowed_actions
from engine.store import campaigns as store
from engine.store import listeners, rule_runs
from engine.store.alerts import list_alerts
from engine.store.sessions import SessionCheck
from http_api.analytics.analytics import analytics_rules
from http_api.catalog.campaigns import ROUTED_ACTIONS
from http_api.catalog.campaigns_schemas import CampaignQuery, SortKey
from http_api.console.acting import allowed, layout
from http_api.console.guard import page_session
from http_api.console.listing import list_query, page_links
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown
from http_api.providers.listeners import link_out
from http_api.routing import ROLE_RANK, Access

__all__ = ["HistoryRow", "add_campaign_routes", "campaign_page", "edit_values"]

_HISTORY_SHOWN, _ALERTS_SHOWN = 20, 10
_SORTS: tuple[tuple[SortKey, str], ...] = (
    ("createdAt", "Created"), ("updatedAt", "Updated"), ("name", "Name"), ("startDate", "Start date"),
    ("endDate", "End date"), ("budget", "Budget"), ("status", "Status"))


@dataclass(frozen=True)
class HistoryRow:
    """One entry of the rules' history as the page shows it: who acted, and the values it changed."""

    at: datetime
    by: str
    action: str
    outcome: str
    change: str

    @classmethod
    def of(cls, run: rule_runs.Run) -> HistoryRow:
        by = "by hand" if run.manual else "the budget guardrail" if run.rule_id is None else f"rule {run.rule_name}"
        before = ", ".join(f"{key} {value}" for key, value in run.before.items())
        after = ", ".join(f"{key} {value}" for key, value in run.after.items())
        change = f"{before} → {after}" if before or after else (run.detail or "")
        return cls(run.at, by + (" (dry run)" if run.dry_run else ""), str(run.action.get("type", "")),
                   run.outcome, change)


def add_campaign_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/app/campaigns")
    async def campaign_list() -> Response:
        session = await page_session(ctx)
        return await _list_page(ctx, session)

    @bp.get("/app/campaigns/<uuid:campaign_id>")
    async def campaign_detail(campaign_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        return await campaign_page(ctx, session, campaign_id)


async def _list_page(ctx: ApiContext, session: SessionCheck) -> Response:
    query, given, errors = list_query(CampaignQuery)
    page = await store.list_campaigns(
        ctx.db(), session.organization_id, status=None if isinstance(query.status, msgspec.UnsetType) else query.status,
        search=query.search_text(), sort=query.sort, order=query.order, limit=query.limit, offset=query.offset)
    html = await render_template(
        "console/campaigns.html", **await layout(ctx, session), page=page, query=query, errors=errors,
        sorts=_SORTS, **page_links("/app/campaigns", given, page), may_change=allowed(session, Access.MEMBER))
    return html_page(html, 400 if errors else 200)


def edit_values(campaign: store.Campaign) -> dict[str, str]:
    """The edit form's fields (the API's names) as the page shows them: dates as UTC, to the minute."""
    return {"name": campaign.name, "budget": f"{campaign.budget:.2f}",
            "startDate": campaign.start_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            "endDate": campaign.end_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")}


async def campaign_page(ctx: ApiContext, session: SessionCheck, campaign_id: uuid.UUID, *,
                        problem: ApiError | None = None, edit: dict[str, str] | None = None,
                        edit_errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """The campaign page; ``problem`` is a refused lifecycle action, shown next to the buttons (its status
    is the page's); ``edit`` and ``edit_errors`` a refused edit, shown in its form (answered with ``status``)."""
    db, org_id = ctx.db(), session.organization_id
    campaign = await store.get_campaign(db, org_id, campaign_id)
    if campaign is None:
        return await not_found_page("campaign")
    link = await listeners.get_listen_link(db, org_id, campaign_id)
    report = await _analytics(ctx, org_id, campaign_id)
    history = await rule_runs.list_runs(db, org_id, campaign_id=campaign_id, limit=_HISTORY_SHOWN)
    # metrics.updated fires up to once a minute for machines (webhooks, dashboards): not an alert for people.
    recent = await list_alerts(db, org_id, campaign_id=campaign_id, limit=100)
    alerts = [alert for alert in recent.items if alert.type != "metrics.updated"][:_ALERTS_SHOWN]
    may_act = ROLE_RANK[session.role] >= Access.MEMBER
    html = await render_template(
        "console/campaign.html", **await layout(ctx, session), campaign=campaign, report=report,
        chart=_chart_json(report) if report is not None else None, history=[HistoryRow.of(r) for r in history.items],
        alerts=alerts, actions=[a for a in allowed_actions(campaign.status) if a in ROUTED_ACTIONS and may_act],
        problem=problem, may_act=may_act, edit=edit or edit_values(campaign), edit_errors=edit_errors or {},
        listen_url=None if link is None else link_out(ctx, link).url, flash=request.cookies.get(FLASH_COOKIE),
        percent=round(campaign.budget_spent * 100 / campaign.budget) if campaign.budget > 0 else 0)
    return flash_shown(html_page(html, problem.status if problem is not None else status))


async def _analytics(ctx: ApiContext, org_id: uuid.UUID, campaign_id: uuid.UUID) -> CampaignAnalytics | None:
    """The analytics of the campaign's default period (its days up to today), or None when it has none to
    show (a flight longer than the longest period the analytics cover)."""
    try:
        return await campaign_analytics(ctx.db(), org_id, campaign_id, start=None, end=None, granularity="day",
                                        rules=analytics_rules(ctx), now=ctx.domain_now())
    except PeriodError:
        return None


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def _chart_json(report: CampaignAnalytics) -> str:
    """The chart's data for campaign-chart.js: days (UTC midnights, seconds), spend, streams, the baseline's
    daily mean and the campaign's window. ``<`` is escaped so the JSON cannot end its script element."""
    data = {"currency": report.currency, "days": [_epoch(p.date) for p in report.daily],
            "spend": [float(p.spend) for p in report.daily], "streams": [p.streams for p in report.daily],
            "baseline": report.attribution.baseline.daily_mean,
            "window": [_epoch(report.attribution.campaign_start), _epoch(report.attribution.campaign_end)]}
    return msgspec.json.encode(data).decode().replace("<", "\\u003c")
