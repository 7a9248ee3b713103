"""`/v1/meta/*`: the connected Meta user's ad accounts, their campaigns (list, create linked to one of ours,
change) and a campaign's daily insights, through ``adapters.meta.MetaClient``.

It owns the translation between the API's major-unit money and Meta's minor units of the ad account's
currency, and the choice between a synchronous insights read and an async report run. It does not handle
provider failures (``http_api.providers.clients`` turns them into ``INTEGRATION_ERROR``), except Meta's "reduce
the data" answer, which sends the insights read to the async report run instead.

Long insights ranges: a range longer than ``SYNC_MAX_DAYS`` days, or one Meta finds too big to answer at
once, goes through an async report run that we poll inside the request, sleeping between polls, until
``ASYNC_DEADLINE_S``. A run not done by then answers 202 with its ``reportRunId`` and a ``Retry-After``;
the same GET with ``reportRunId`` resumes waiting on that run rather than starting another (a run can
take up to an hour, PROVIDERS.md A3, so a 504 would throw away Meta's work and make the client start over).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date
from decimal import Decimal

import msgspec
import trio
from msgspec import UnsetType
from quart import Response

from adapters.meta.client import MetaClient
from adapters.meta.errors import ReduceDataError
from adapters.meta.money import to_minor
from adapters.meta.schemas import AdAccount, Campaign, InsightRow
from engine.store import campaign_meta
from engine.store import campaigns as store
from engine.store.catalog_common import Conflict
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.pagination import ListQuery, paginate
from http_api.providers.clients import PROVIDER_ERRORS, meta_client
from http_api.providers.meta_budget import push_budget, remember_account
from http_api.providers.meta_schemas import (
    INSIGHTS_DEFAULT_DAYS,
    InsightRowOut,
    Insights,
    InsightsPending,
    InsightsQuery,
    MetaAccount,
    MetaAccountList,
    MetaCampaign,
    MetaCampaignCreate,
    MetaCampaignLinked,
    MetaCampaignList,
    MetaCampaignPatch,
    MetaCampaignQuery,
)
from http_api.responses import json_response
from http_api.routing import Access, Call, Router

__all__ = [
    "ASYNC_DEADLINE_S", "MAX_MONTHS_BACK", "SYNC_MAX_DAYS", "link_to_meta", "meta_ad_accounts", "meta_router",
    "months_back",
]

# PROVIDERS.md gives no day count for "big ranges" (C: "use async insights for big ranges"). We take 90
# days, Meta's longest relative sync preset (last_90d) and its largest time_increment: a daily read of a
# longer range is hundreds of rows per breakdown bucket, where sync reads start timing out.
SYNC_MAX_DAYS = 90
MAX_MONTHS_BACK = 37  # Meta refuses older starts (3018; Meltano clamps to it), PROVIDERS.md A3
# Singer starts polling at 10 s and Airbyte polls every 30 s, for jobs of up to an hour; a person is
# waiting on this request, so we start at 1 s and double up to 10 s, and give up waiting after a minute.
ASYNC_DEADLINE_S = 60.0
_FIRST_POLL_S, _MAX_POLL_S = 1.0, 10.0
_RETRY_AFTER_S = 30
_LINKABLE = frozenset({"draft", "active", "paused"})  # archived and completed campaigns are done
_BUDGET_RULE = "more decimals than {currency} has"
# Meta pages its edges by cursor, with no offset and no total (PROVIDERS.md A2), so the `total` and
# `offset` of our pagination need the whole listing: we read it (100 per Meta call) and page it here.
_READ_WHOLE = "Meta's listing is read whole (100 items per Meta call) and paged here, so `total` is exact."


def meta_router(ctx: ApiContext) -> Router:
    router = Router("meta", ctx, tag="Meta")

    @router.route("GET", "/v1/meta/accounts", summary="List the connected Meta user's ad accounts",
                  access=Access.VIEWER, query=ListQuery, response=MetaAccountList, errors=PROVIDER_ERRORS,
                  description="`amountSpent` is lifetime spend in major units of the account's `currency`. "
                              + _READ_WHOLE)
    async def list_accounts(call: Call) -> MetaAccountList:
        accounts, pagination = paginate(await meta_ad_accounts(call), call.query)
        return MetaAccountList(accounts=[MetaAccount.of(account) for account in accounts], pagination=pagination)

    @router.route(
        "GET", "/v1/meta/campaigns", summary="List Meta campaigns", access=Access.VIEWER,
        query=MetaCampaignQuery, response=MetaCampaignList, errors=PROVIDER_ERRORS,
        description="One ad account's campaigns, or every account's without `adAccountId`. Budgets are major"
                    " units of the account's `currency`; `campaignId` is our campaign linked to it, if any. "
                    + _READ_WHOLE,
    )
    async def list_meta_campaigns(call: Call) -> MetaCampaignList:
        query: MetaCampaignQuery = call.query
        links = await campaign_meta.meta_links(call.db, call.caller.organization_id)
        async with meta_client(call) as (client, _):
            if isinstance(query.ad_account_id, UnsetType):
                accounts = (await client.ad_accounts()).data
            else:
                accounts = [(await client.account(query.ad_account_id)).data]
            found: list[MetaCampaign] = []
            for account in accounts:
                for campaign in (await client.campaigns(account.id, query.statuses())).data:
                    found.append(MetaCampaign.of(campaign, account.currency, links.get(campaign.id)))
        shown, pagination = paginate(found, query)
        return MetaCampaignList(campaigns=shown, pagination=pagination)

    @router.route(
        "POST", "/v1/meta/campaigns", summary="Create a Meta campaign for one of our campaigns",
        access=Access.MEMBER, body=MetaCampaignCreate, response=MetaCampaignLinked, status=201,
        errors=(404, *PROVIDER_ERRORS),
        description="Creates the campaign on Meta PAUSED, with `budget` (major units of the AD ACCOUNT's"
                    " currency) as its lifetime or daily budget, and links our campaign `campaignId` to it;"
                    " our launch and pause routes then start and stop it on Meta. Our campaign's budget is then"
                    " pushed as the Meta campaign's lifetime budget (and kept so on every change); when it"
                    " cannot be (another currency than the account's, a daily budget, Meta's refusal) the link"
                    " still succeeds and the campaign's `metaSync.error` says why. 404 NOT_FOUND when the"
                    " organization has no such campaign; 409 CONFLICT when it is archived or completed, or"
                    " already linked; 400 names `budget` when it has more decimals than the currency (JPY has"
                    " none) and `bidStrategy` for a capped strategy (they need bid amounts on ad sets).",
    )
    async def create_meta_campaign(call: Call) -> Response:
        return json_response(await link_to_meta(call, call.body), status=201)

    @router.route(
        "PATCH", "/v1/meta/campaigns/<meta_campaign_id>", summary="Change a Meta campaign",
        access=Access.MEMBER, body=MetaCampaignPatch, response=MetaCampaign, errors=(404, *PROVIDER_ERRORS),
        description="Sets the given fields on Meta and answers the campaign as Meta then shows it. Budgets are"
                    " major units of the account's currency (400 names a budget with more decimals than it"
                    " has). A campaign linked to one of ours keeps its `metaEffectiveStatus` in step. 404 when"
                    " none of the connected user's ad accounts has the campaign.",
    )
    async def update_meta_campaign(call: Call, meta_campaign_id: str) -> MetaCampaign:
        body: MetaCampaignPatch = call.body
        org_id = call.caller.organization_id
        linked = await _linked(call, meta_campaign_id)
        async with meta_client(call) as (client, _):
            account, _campaign = await _locate(client, meta_campaign_id, linked)
            changes: dict[str, object] = {}
            if not isinstance(body.status, UnsetType):
                changes["status"] = body.status
            if not isinstance(body.name, UnsetType):
                changes["name"] = body.name
            if not isinstance(body.daily_budget, UnsetType):
                changes["daily_budget_minor"] = _minor(body.daily_budget, account, "dailyBudget")
            if not isinstance(body.lifetime_budget, UnsetType):
                changes["lifetime_budget_minor"] = _minor(body.lifetime_budget, account, "lifetimeBudget")
            await client.update_campaign(meta_campaign_id, act_id=account.id, **changes)  # type: ignore[arg-type]
            updated = await _find(client, account, meta_campaign_id)
        if linked is not None:
            await campaign_meta.set_meta_effective_status(call.db, org_id, meta_campaign_id, updated.effective_status)
        return MetaCampaign.of(updated, account.currency, linked.id if linked else None)

    @router.route(
        "GET", "/v1/meta/campaigns/<meta_campaign_id>/insights", summary="A Meta campaign's daily insights",
        access=Access.VIEWER, query=InsightsQuery, response=Insights, errors=(404, *PROVIDER_ERRORS),
        other_responses=((202, InsightsPending, "Meta's async report run is still running: ask again with its"
                                                " `reportRunId` after `Retry-After` seconds"),),
        description=f"Daily rows from `since` to `until` (inclusive, in the ad account's timezone; default: the"
                    f" {INSIGHTS_DEFAULT_DAYS} days up to today, Meta's own default, and the answer's `since`"
                    f" and `until` say which days they are), split by"
                    f" `breakdowns`, every page read. `spend` is major units of the account's currency; ctr,"
                    f" cpc and cpm are as Meta gives them (null when it did not). Ranges over {SYNC_MAX_DAYS}"
                    f" days, or ones Meta finds too big, go through an async report run that we wait on for up"
                    f" to {ASYNC_DEADLINE_S:.0f} s; past that the answer is 202 with its `reportRunId`. 400"
                    f" names `until` when it is before `since`, and `since` when it is more than"
                    f" {MAX_MONTHS_BACK} months back (Meta keeps no older data).",
    )
    async def campaign_insights(call: Call, meta_campaign_id: str) -> Insights | Response:
        query: InsightsQuery = call.query
        today = call.ctx.domain_now().date()
        since, until = query.period(today)
        _check_range(since, until, today)
        _check_id(meta_campaign_id)
        linked = await _linked(call, meta_campaign_id)
        act_id = linked.meta_ad_account_id if linked else None
        breakdowns = query.breakdown_list()
        async with meta_client(call) as (client, _):
            run_id = None if isinstance(query.report_run_id, UnsetType) else query.report_run_id
            rows: list[InsightRow] | None = None
            if run_id is None and (until - since).days + 1 <= SYNC_MAX_DAYS:
                try:
                    rows = (await client.campaign_insights(meta_campaign_id, since, until,
                                                           breakdowns=breakdowns, act_id=act_id)).data
                except ReduceDataError:  # too big for one synchronous answer: Meta's async run takes it
                    rows = None
            if rows is None:
                if run_id is None:
                    run_id = (await client.start_report(meta_campaign_id, since, until,
                                                        breakdowns=breakdowns, act_id=act_id)).data
                outcome = await _wait_for_report(client, run_id, act_id)
                if isinstance(outcome, Response):
                    return outcome
                rows = _only(outcome, meta_campaign_id, since, until)
        return Insights(meta_campaign_id=meta_campaign_id, since=since, until=until,
                        breakdowns=list(breakdowns), source="sync" if run_id is None else "async",
                        report_run_id=run_id, rows=[InsightRowOut.of(row) for row in rows])

    return router


async def meta_ad_accounts(call: Call) -> list[AdAccount]:
    """The connected Meta user's ad accounts, read from Meta (``GET /v1/meta/accounts``, the console's link
    form). Raises ``INTEGRATION_ERROR`` as ``meta_client`` does."""
    async with meta_client(call) as (client, _):
        return (await client.ad_accounts()).data


async def link_to_meta(call: Call, body: MetaCampaignCreate) -> MetaCampaignLinked:
    """Create a PAUSED Meta campaign for our campaign ``body.campaign_id`` and link the two, then push our
    budget to it (a refusal is kept in ``metaSync.error``; the link stands). ``POST /v1/meta/campaigns`` and
    the console's "Link to Meta" form both call it. Raises ``ApiError`` (400 naming the field, 404, 409,
    Meta's errors)."""
    org_id = call.caller.organization_id
    ours = await _linkable(call, body.campaign_id)
    if body.bid_strategy != "LOWEST_COST_WITHOUT_CAP":
        raise _invalid("bidStrategy", "only LOWEST_COST_WITHOUT_CAP: the capped strategies need a bid"
                                      " amount on each ad set, which this API does not create")
    async with meta_client(call) as (client, _):
        account = (await client.account(body.ad_account_id)).data
        minor = _minor(body.budget, account, "budget")
        budgets = {"daily_budget_minor" if body.budget_type == "daily" else "lifetime_budget_minor": minor}
        meta_id = (await client.create_campaign(
            account.id, name=ours.name, objective=body.objective, status="PAUSED",
            special_ad_categories=body.special_ad_categories, **budgets)).data
        created = await _find(client, account, meta_id)
    try:
        linked = await campaign_meta.link_meta(call.db, org_id, ours.id, ad_account_id=account.id,
                                       meta_campaign_id=meta_id, effective_status=created.effective_status)
    except Conflict as exc:  # a concurrent POST linked it first; our Meta campaign stays PAUSED, unused
        raise ApiError(409, "CONFLICT", exc.message, [ErrorDetail(exc.field, exc.message)]) from exc
    if linked is None:  # deleted while we were on Meta
        raise not_found("campaign")
    # Our budget is the Meta campaign's from now on; a refusal is recorded and the link stands.
    await remember_account(call, account)
    pushed = await push_budget(call, linked, action="set_budget", meta=created, raise_refusal=False)
    if pushed is not None:
        created = msgspec.structs.replace(created, lifetime_budget=pushed)
    return MetaCampaignLinked(campaign_id=linked.id,
                              meta_campaign=MetaCampaign.of(created, account.currency, linked.id))


async def _linkable(call: Call, campaign_id: uuid.UUID) -> store.Campaign:
    """Our campaign ``campaign_id``, which may be linked to a new Meta campaign; 404 or 409 otherwise."""
    ours = await store.get_campaign(call.db, call.caller.organization_id, campaign_id)
    if ours is None:
        raise ApiError(404, "NOT_FOUND", "no such campaign in your organization",
                       [ErrorDetail("campaignId", "not found")])
    if ours.status not in _LINKABLE:
        raise ApiError(409, "CONFLICT", f"a campaign that is {ours.status} cannot go to Meta",
                       [ErrorDetail("campaignId", f"is {ours.status}")])
    if ours.meta_campaign_id is not None:
        raise ApiError(409, "CONFLICT", f"the campaign is already linked to Meta campaign {ours.meta_campaign_id}",
                       [ErrorDetail("campaignId", "already linked")])
    return ours


async def _linked(call: Call, meta_campaign_id: str) -> store.Campaign | None:
    return await campaign_meta.get_campaign_by_meta(call.db, call.caller.organization_id, meta_campaign_id)


def _check_id(meta_campaign_id: str) -> None:
    if not meta_campaign_id.isascii() or not meta_campaign_id.isdigit() or len(meta_campaign_id) > 30:
        raise ApiError(404, "NOT_FOUND", "no such Meta campaign: Meta campaign ids are digits")


async def _locate(client: MetaClient, meta_campaign_id: str, linked: store.Campaign | None
                  ) -> tuple[AdAccount, Campaign]:
    """The ad account holding the Meta campaign, and the campaign; 404 when none of the user's accounts has it.

    A linked campaign names its account; otherwise we look through every account (the client reads a
    campaign only through its account, which also gives us the currency its budgets are in).
    """
    _check_id(meta_campaign_id)
    if linked is not None and linked.meta_ad_account_id is not None:
        accounts = [(await client.account(linked.meta_ad_account_id)).data]
    else:
        accounts = (await client.ad_accounts()).data
    for account in accounts:
        for campaign in (await client.campaigns(account.id)).data:
            if campaign.id == meta_campaign_id:
                return account, campaign
    raise ApiError(404, "NOT_FOUND", "none of the connected Meta user's ad accounts has this campaign")


async def _find(client: MetaClient, account: AdAccount, meta_campaign_id: str) -> Campaign:
    for campaign in (await client.campaigns(account.id)).data:
        if campaign.id == meta_campaign_id:
            return campaign
    raise ApiError(502, "INTEGRATION_ERROR", f"Meta: campaign {meta_campaign_id} is missing from {account.id}"
                                             " right after the change")


def _minor(amount: Decimal, account: AdAccount, field: str) -> int:
    currency = account.currency or "USD"
    try:
        return to_minor(amount, currency)
    except ValueError as exc:
        raise _invalid(field, f"{amount} has {_BUDGET_RULE.format(currency=currency)}") from exc


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", "Validation failed", [ErrorDetail(field, message)])


def months_back(today: date, months: int) -> date:
    """The same day ``months`` back, clamped to that month's end."""
    month_index = today.year * 12 + today.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def _check_range(since: date, until: date, today: date) -> None:
    if until < since:
        raise _invalid("until", f"must not be before since ({since.isoformat()})")
    oldest = months_back(today, MAX_MONTHS_BACK)
    if since < oldest:
        raise _invalid("since", f"Meta keeps {MAX_MONTHS_BACK} months of insights: since must be"
                                f" {oldest.isoformat()} or later")


async def _wait_for_report(client: MetaClient, run_id: str, act_id: str | None) -> list[InsightRow] | Response:
    """The rows of the report run once complete; a 202 ``Response`` when it is not done by the deadline.

    Error handling: a failed or expired run is 502 ``INTEGRATION_ERROR`` with Meta's message.
    """
    deadline, wait = trio.current_time() + ASYNC_DEADLINE_S, _FIRST_POLL_S
    while True:
        run = (await client.report_status(run_id, act_id=act_id)).data
        if run.completed:
            return (await client.report_rows(run_id, act_id=act_id)).data
        if run.failed:
            why = run.error_message or run.async_status
            raise ApiError(502, "INTEGRATION_ERROR", f"Meta: report run {run_id} ended with {run.async_status}:"
                                                     f" {why}; ask again without reportRunId to start a new one")
        if trio.current_time() + wait > deadline:
            pending = InsightsPending(report_run_id=run_id, async_status=run.async_status,
                                      percent_complete=run.async_percent_completion)
            response = json_response(pending, status=202)
            response.headers["Retry-After"] = str(_RETRY_AFTER_S)
            return response
        await trio.sleep(wait)
        wait = min(_MAX_POLL_S, wait * 2)


def _only(rows: list[InsightRow], meta_campaign_id: str, since: date, until: date) -> list[InsightRow]:
    """The run's rows, checked to be the ones asked for: a ``reportRunId`` of another query is a 400."""
    for row in rows:
        if (row.campaign_id not in (None, meta_campaign_id) or row.date_start < since
                or row.date_stop > until):
            raise _invalid("reportRunId", "this report run answers another campaign or range")
    return rows
