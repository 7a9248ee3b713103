"""Which handler answers a Graph path, which ad account the call is charged to, and under which BUC type.

It owns the URL table only; handlers live in ``objects``, ``insights`` and ``reports``, and charging in
``app``. Insights calls (sync, async submit, run status and results) count as ads_insights reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from . import insights, objects
from .audiences import Audiences
from .capi import Conversions
from .graph import GraphError, Request, Response, json_response
from .quota import BucType
from .reports import Reports
from .world import Account, World

__all__ = ["Handler", "Objects", "Route", "resolve"]

Handler = Callable[[Request], Response]
Table = dict[tuple[str | None, str], Handler]
_EDGES = ("campaigns", "insights", "ads_volume", "customaudiences", "users", "events", "adspixels", "minimum_budgets")
_PATH = re.compile(rf"^/(act_)?(\d+)(/(?:{'|'.join(_EDGES)}))?$")


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    account: Account | None = None
    buc: BucType = "ads_management"
    write: bool = False
    insights: bool = False
    mutation: bool = False  # a create or edit of a campaign: subject to the 100/s mutation limit


@dataclass(frozen=True, slots=True)
class Objects:
    """Everything a path can name."""

    world: World
    reports: Reports
    audiences: Audiences
    conversions: Conversions


def not_found(request: Request, object_id: str) -> GraphError:
    return GraphError(
        f"Unsupported {request.method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        code=100,
        subcode=33,
        type="GraphMethodException",
    )


def _submit(world: World, reports: Reports, account: Account, campaign_id: str | None, request: Request) -> Response:
    campaign = world.campaigns[campaign_id] if campaign_id else None
    return reports.submit(account.account_id, insights.insight_rows(world, account, campaign, request))


def _ads_volume(world: World, request: Request) -> Response:
    return json_response({"data": [{"ads_running_or_in_review_count": world.config.active_ads}]})


def _account_table(objs: Objects, account: Account) -> Table:
    world, reports, audiences = objs.world, objs.reports, objs.audiences
    return {
        (None, "GET"): partial(objects.read_account, world, account),
        ("/campaigns", "GET"): partial(objects.list_campaigns, world, account),
        ("/campaigns", "POST"): partial(objects.create_campaign, world, account),
        ("/insights", "GET"): partial(insights.insights, world, account, None),
        ("/insights", "POST"): partial(_submit, world, reports, account, None),
        ("/ads_volume", "GET"): partial(_ads_volume, world),
        ("/customaudiences", "GET"): partial(audiences.list, account.account_id),
        ("/customaudiences", "POST"): partial(audiences.create, account.account_id),
        ("/adspixels", "GET"): partial(objects.list_pixels, world, account),
        ("/minimum_budgets", "GET"): partial(objects.list_minimum_budgets, world, account),
    }


def _node_table(objs: Objects, request: Request, number: str) -> tuple[Account, Table]:
    world, reports, audiences = objs.world, objs.reports, objs.audiences
    if (campaign := world.campaigns.get(number)) is not None:
        account = world.accounts[campaign.account_id]
        return account, {
            (None, "GET"): partial(objects.read_campaign, world, campaign),
            (None, "POST"): partial(objects.update_campaign, world, campaign),
            (None, "DELETE"): partial(objects.delete_campaign, world, campaign),
            ("/insights", "GET"): partial(insights.insights, world, account, campaign),
            ("/insights", "POST"): partial(_submit, world, reports, account, campaign.id),
        }
    if (run := reports.runs.get(number)) is not None:
        table: Table = {
            (None, "GET"): partial(reports.status, run),
            ("/insights", "GET"): partial(reports.results, run),
        }
        return world.accounts[run.account_id], table
    if (audience := audiences.audiences.get(number)) is not None:
        table = {
            (None, "GET"): partial(audiences.read, audience),
            (None, "DELETE"): partial(audiences.delete, audience),
            ("/users", "POST"): partial(audiences.users, audience),
            ("/users", "DELETE"): partial(audiences.users, audience),
        }
        return world.accounts[audience.account_id], table
    raise not_found(request, number)


def _buc(objs: Objects, number: str, edge: str | None) -> BucType:
    if edge == "/insights" or number in objs.reports.runs:
        return "ads_insights"
    if edge == "/customaudiences" or number in objs.audiences.audiences:
        return "custom_audience"
    return "ads_management"


def resolve(objs: Objects, request: Request) -> Route:
    """The route of ``request``; raises GraphError 100/33 for unknown objects and unsupported methods."""
    if request.path == "/me/adaccounts" and request.method == "GET":
        return Route(partial(objects.list_accounts, objs.world))
    match = _PATH.match(request.path)
    if match is None:
        raise not_found(request, request.path.strip("/"))
    number, edge = match.group(2), match.group(3)
    if number in objs.world.pixels and edge == "/events" and request.method == "POST":
        return Route(partial(objs.conversions.receive, number), write=True)  # CAPI: no BUC, no ad-account score
    if match.group(1):
        account = objs.world.accounts.get(number)
        if account is None:
            raise not_found(request, f"act_{number}")
        table = _account_table(objs, account)
    else:
        account, table = _node_table(objs, request, number)
    handler = table.get((edge, request.method))
    if handler is None:
        raise not_found(request, request.path.strip("/"))
    buc = _buc(objs, number, edge)
    on_insights = buc == "ads_insights"
    campaign_write = request.method == "POST" and (edge == "/campaigns" or number in objs.world.campaigns)
    return Route(
        handler,
        account,
        buc,
        write=request.method != "GET" and not on_insights,
        insights=on_insights,
        mutation=campaign_write and edge != "/insights",
    )
