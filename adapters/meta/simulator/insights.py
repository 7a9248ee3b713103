"""Synchronous insights (PROVIDERS.md A3): ``GET /act_<id>/insights`` and ``GET /<campaign_id>/insights``.

It owns the parameters (time_range, date_preset, time_increment, level, breakdowns, filtering) and the row shape:
string metrics, ``spend`` as a major-unit decimal string, ``actions`` lists, days in the account's
timezone. Every number is summed from ``World.truth``; async report runs are not simulated yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from .filtering import parse_filters
from .graph import GraphError, Request, Response, invalid_param, json_response, page
from .metrics import BREAKDOWN_VALUES, DayMetrics
from .world import Account, Campaign, World

__all__ = ["format_spend", "insight_rows", "insights"]

Json = dict[str, object]
_DEFAULT_FIELDS = ("impressions", "spend")
_LEVELS = ("account", "campaign")
_PRESET_DAYS = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30, "last_90d": 90}
_MAX_DAYS = 37 * 31


def format_spend(minor: int, offset: int) -> str:
    """Minor units as Meta's major-unit decimal string: 533950 cents → "5339.5", 3000 yen → "3000"."""
    text = format(Decimal(minor) / Decimal(offset), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _range(world: World, account: Account, request: Request) -> tuple[date, date]:
    today = world.local_date(account)
    if "time_range" in request.params:
        value = request.json_param("time_range")
        try:
            assert isinstance(value, dict)
            since, until = date.fromisoformat(value["since"]), date.fromisoformat(value["until"])
        except (AssertionError, KeyError, TypeError, ValueError):
            raise invalid_param('Param time_range must be {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}') from None
    else:
        preset = request.params.get("date_preset", "last_30d")
        if preset == "today":
            since = until = today
        elif preset == "yesterday":
            since = until = today - timedelta(days=1)
        elif preset == "this_month":
            since, until = today.replace(day=1), today
        elif preset == "last_month":
            until = today.replace(day=1) - timedelta(days=1)
            since = until.replace(day=1)
        elif preset == "maximum":
            since, until = today - timedelta(days=_MAX_DAYS), today
        elif preset in _PRESET_DAYS:
            since, until = today - timedelta(days=_PRESET_DAYS[preset]), today - timedelta(days=1)
        else:
            known = ", ".join(("today", "yesterday", "this_month", "last_month", "maximum", *_PRESET_DAYS))
            raise invalid_param(f"Param date_preset must be one of {{{known}}}")
    if since > until:
        raise invalid_param("Invalid time range: since must not be after until")
    if (today - since).days > _MAX_DAYS:
        raise invalid_param("Start date is more than 37 months back", 3018)
    return since, min(until, today)


def _chunks(since: date, until: date, increment: str) -> Iterator[tuple[date, date]]:
    if increment == "all_days":
        yield since, until
        return
    if increment == "monthly":
        while since <= until:
            next_month = (since.replace(day=28) + timedelta(days=4)).replace(day=1)
            yield since, min(until, next_month - timedelta(days=1))
            since = next_month
        return
    try:
        step = int(increment)
    except ValueError:
        raise invalid_param("Param time_increment must be all_days, monthly or 1-90") from None
    if not 1 <= step <= 90:
        raise invalid_param("Param time_increment must be all_days, monthly or 1-90")
    while since <= until:
        yield since, min(until, since + timedelta(days=step - 1))
        since += timedelta(days=step)


def _breakdowns(request: Request) -> tuple[str, ...]:
    names = tuple(b.strip() for b in request.params.get("breakdowns", "").split(",") if b.strip())
    if any(name not in BREAKDOWN_VALUES for name in names):
        raise GraphError("(#2) Invalid breakdowns", code=2, subcode=1504041)
    return names


def _add(a: DayMetrics, b: DayMetrics) -> DayMetrics:
    return DayMetrics(a.spend_minor + b.spend_minor, a.impressions + b.impressions, a.clicks + b.clicks)


def _row(account: Account, campaign: Campaign | None, metrics: DayMetrics, fields: list[str]) -> Json:
    spend = Decimal(metrics.spend_minor) / Decimal(account.offset)
    values: Json = {
        "account_id": account.account_id,
        "account_name": account.name,
        "account_currency": account.currency,
        "impressions": str(metrics.impressions),
        "clicks": str(metrics.clicks),
        "spend": format_spend(metrics.spend_minor, account.offset),
        "actions": [{"action_type": k, "value": str(v)} for k, v in metrics.actions.items() if v],
    }
    if campaign is not None:
        values.update(campaign_id=campaign.id, campaign_name=campaign.name, objective=campaign.objective)
    if metrics.impressions:
        values["ctr"] = f"{100 * metrics.clicks / metrics.impressions:.6f}"
        values["cpm"] = f"{1000 * spend / metrics.impressions:.6f}"
    if metrics.clicks:
        values["cpc"] = f"{spend / metrics.clicks:.6f}"
    return {name: values[name] for name in fields if name in values}


def _grouped(
    world: World, campaigns: list[Campaign], start: date, stop: date, dims: tuple[str, ...], by_campaign: bool
) -> dict[tuple[str, tuple[str, ...]], DayMetrics]:
    groups: dict[tuple[str, tuple[str, ...]], DayMetrics] = {}
    for each in campaigns:
        day = start
        while day <= stop:
            for key, metrics in world.truth(each.id, day, dims).items():
                group = (each.id if by_campaign else "", key)
                groups[group] = _add(groups.get(group, DayMetrics(0, 0, 0)), metrics)
            day += timedelta(days=1)
    return groups


def insight_rows(world: World, account: Account, campaign: Campaign | None, request: Request) -> list[Json]:
    """Rows per (time chunk, campaign or account, breakdown bucket); rows without delivery are omitted.

    ``filtering`` (``filtering.py``) keeps campaigns out of the sums and rows out of the answer.
    Error handling: bad parameters raise GraphError 100 (invalid breakdowns: 2/1504041).
    """
    level = request.params.get("level", "campaign" if campaign else "account")
    if level not in _LEVELS or (campaign is not None and level == "account"):
        raise invalid_param(f"Param level must be one of {{{', '.join(_LEVELS)}}} at or below the object")
    since, until = _range(world, account, request)
    dims, fields, filters = _breakdowns(request), request.fields(_DEFAULT_FIELDS), parse_filters(request)
    campaigns = [campaign] if campaign else sorted(world.campaigns_of(account), key=lambda c: c.id)
    campaigns = [each for each in campaigns if filters.admits_campaign(each)]
    rows: list[Json] = []
    for start, stop in _chunks(since, until, request.params.get("time_increment", "all_days")):
        for (campaign_id, key), metrics in sorted(
            _grouped(world, campaigns, start, stop, dims, level == "campaign").items()
        ):
            if (metrics.impressions == 0 and metrics.spend_minor == 0) or not filters.admits_row(account, metrics):
                continue
            row = _row(account, world.campaigns[campaign_id] if campaign_id else None, metrics, fields)
            row.update(zip(dims, key, strict=True))
            row.update(date_start=start.isoformat(), date_stop=stop.isoformat())
            rows.append(row)
    return rows


def _summary(rows: list[Json]) -> Json:
    """Totals of the additive string metrics over every row (not just the page), as strings."""
    totals: Json = {}
    for name in ("impressions", "clicks", "spend"):
        values = [Decimal(str(row[name])) for row in rows if name in row]
        if values:
            text = format(sum(values, Decimal(0)), "f")
            totals[name] = text.rstrip("0").rstrip(".") if "." in text else text
    if rows:
        totals["date_start"] = min(str(row["date_start"]) for row in rows)
        totals["date_stop"] = max(str(row["date_stop"]) for row in rows)
    return totals


def insights(world: World, account: Account, campaign: Campaign | None, request: Request) -> Response:
    """The synchronous answer: one cursor page of ``insight_rows``.

    Error handling: more rows than ``insights_max_rows`` give 100/1487534 (use an async run); a page of
    more than ``insights_max_cells`` values gives Meta's HTTP 500 "Please reduce the amount of data".
    """
    rows, config = insight_rows(world, account, campaign, request), world.config
    if len(rows) > config.insights_max_rows:
        raise invalid_param("Please reduce the amount of data you're asking for, then retry your request", 1487534)
    body = page(rows, request)
    if request.params.get("summary") in ("true", "1") or request.params.get("default_summary") in ("true", "1"):
        body["summary"] = _summary(rows)
    data = body["data"]
    cells = sum(len(row) for row in data) if isinstance(data, list) else 0
    if cells > config.insights_max_cells:
        message = "Please reduce the amount of data you're asking for, then retry your request"
        raise GraphError(message, code=1, status=500, is_transient=True)
    return json_response(body)
