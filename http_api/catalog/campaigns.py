"""`/v1/campaigns`: an organization's campaigns, their goals, and their lifecycle (launch, pause,
complete, archive) as ``engine.campaign_status`` defines it.

Every status change is the store's compare-and-set, so two concurrent launches cannot both win; the checks
that depend on the row (launch needs a track, delete refuses an active campaign) run in the same
transaction as the write, on the row it locked. Another organization's campaign answers 404. Launch and
pause of a campaign linked to a Meta campaign (``POST /v1/meta/campaigns``) set the Meta campaign ACTIVE or
PAUSED first, a launch with our budget in the same write, and a PATCH of the budget or currency pushes the
budget first (``http_api.providers.meta_budget``); creating and changing Meta campaigns is
``http_api.providers.meta``'s. A campaign at its budget guardrail (``engine.guardrail``) does not launch:
resuming it would only spend past the limit until the next batch of figures paused it again. A member's
pause, launch, resume and budget change also go into the rules' history (``manual_actions``), in the
change's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from msgspec import UnsetType

from engine.campaign_status import TRANSITIONS, Action, action_to, allowed_actions, launch_blockers
from engine.guardrail import PauseCause, PausedReason, tripped
from engine.store import audiences, campaign_meta
from engine.store import campaigns as store
from engine.store.catalog_common import Executor, atomic
from http_api.analytics.analytics import now_of
from http_api.catalog import manual_actions
from http_api.catalog.campaigns_schemas import (
    Campaign,
    CampaignCreate,
    CampaignList,
    CampaignPatch,
    CampaignQuery,
    window_problem,
)
from http_api.catalog.schemas import Targeting
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found, store_errors
from http_api.pagination import Pagination
from http_api.providers.clients import PROVIDER_ERRORS, meta_client
from http_api.providers.meta_budget import push_budget
from http_api.routing import Access, Call, Router

__all__ = ["ROUTED_ACTIONS", "add_campaign", "campaigns_router", "change_status", "update_campaign"]

_CONFLICTS = (
    "409 CONFLICT when the current status does not allow the action: the message names the status and "
    "the details list the actions allowed from it."
)
_LIFECYCLE = (
    "draft → active (launch); active → paused (pause); paused → active (launch resumes it); "
    "active or paused → completed (PATCH status); draft, paused or completed → archived (archive); "
    "archived is final."
)

# The actions with a route of their own; "complete" is reached through PATCH {"status": "completed"}.
_ACTION_ROUTES: tuple[tuple[Action, str], ...] = (
    ("launch", "Launch a draft campaign, or resume a paused one"),
    ("pause", "Pause an active campaign"),
    ("archive", "Archive a draft, paused or completed campaign"),
)
ROUTED_ACTIONS: tuple[Action, ...] = tuple(action for action, _ in _ACTION_ROUTES)
_ROUTED = frozenset(ROUTED_ACTIONS)
# The actions pushed to a linked Meta campaign, and the Meta status each sets.
_META_STATUS: dict[Action, str] = {"launch": "ACTIVE", "pause": "PAUSED"}
_META_PUSH = (
    " When the campaign is linked to a Meta campaign (`metaCampaignId`), that campaign is set {status} on Meta"
    " first ({budget}); if Meta refuses or fails, its error is the answer (502 INTEGRATION_ERROR with Meta's"
    " message; 409 INTEGRATION_ERROR when Meta must be connected again) and the campaign's status does not"
    " change."
)
_BUDGET_PUSH = (
    " A change of `budget` or `currency` of a campaign linked to a Meta campaign is pushed to Meta first, as its"
    " lifetime budget in the ad account's currency; if Meta refuses or fails, its error is the answer (502"
    " INTEGRATION_ERROR with Meta's message; 409 INTEGRATION_ERROR when Meta must be connected again), and 409"
    " CONFLICT (field `budget`) when we cannot push it (the currency is not the ad account's: we do not convert;"
    " the Meta campaign has a daily budget). Then nothing of the campaign changes, and the refusal is kept in"
    " `metaSync.error` and sent as `campaign.meta_sync_failed`."
)
_WINDOW_CHECK = "campaigns_check"  # PostgreSQL's name for the table's unnamed CHECK (end_date > start_date)


@dataclass(frozen=True)
class _Member:
    """What a status change needs of the call: who acts (the pause's cause), when, and the server's
    guardrail default (launch refuses a campaign at its guardrail)."""

    user_id: uuid.UUID
    now: datetime
    guardrail_percent: int

    @classmethod
    def of(cls, call: Call) -> _Member:
        return cls(call.caller.user_id, now_of(call), call.ctx.settings.rules.guardrail_percent)


def campaigns_router(ctx: ApiContext) -> Router:
    router = Router("campaigns", ctx, tag="Campaigns")

    @router.route("GET", "/v1/campaigns", summary="List campaigns", access=Access.VIEWER,
                  query=CampaignQuery, response=CampaignList)
    async def list_campaigns(call: Call) -> CampaignList:
        query: CampaignQuery = call.query
        page = await store.list_campaigns(
            call.db, call.caller.organization_id, status=_unset_to_none(query.status),
            search=query.search_text(), sort=query.sort, order=query.order, limit=query.limit,
            offset=query.offset,
        )
        campaigns = [Campaign.of(row) for row in page.items]
        return CampaignList(campaigns=campaigns, pagination=Pagination.of(page))

    @router.route("POST", "/v1/campaigns", summary="Create a draft campaign", access=Access.MEMBER,
                  body=CampaignCreate, response=Campaign, status=201, errors=(404,),
                  description="404 NOT_FOUND (field `trackId`) when the organization has no such track;"
                              " 400 names `targetAudience.audienceId` when it has no such audience.")
    async def create_campaign(call: Call) -> Campaign:
        return Campaign.of(await add_campaign(call, call.body))

    @router.route("GET", "/v1/campaigns/<uuid:campaign_id>", summary="Get a campaign",
                  access=Access.VIEWER, response=Campaign)
    async def get_campaign(call: Call, campaign_id: uuid.UUID) -> Campaign:
        row = await store.get_campaign(call.db, call.caller.organization_id, campaign_id)
        if row is None:
            raise not_found("campaign")
        return Campaign.of(row)

    @router.route(
        "PATCH", "/v1/campaigns/<uuid:campaign_id>", summary="Change some of a campaign's fields",
        access=Access.MEMBER, body=CampaignPatch, response=Campaign, errors=tuple(sorted({409, *PROVIDER_ERRORS})),
        description="A `status` follows the lifecycle: " + _LIFECYCLE + " " + _CONFLICTS + " 400 names "
                    "`endDate` when the change would put it at or before the start date, stored or sent, and "
                    "`targetAudience.audienceId` when the organization has no such audience." + _BUDGET_PUSH,
    )
    async def patch_campaign(call: Call, campaign_id: uuid.UUID) -> Campaign:
        return Campaign.of(await update_campaign(call, campaign_id, call.body))

    @router.route(
        "DELETE", "/v1/campaigns/<uuid:campaign_id>", summary="Delete a campaign", access=Access.MEMBER,
        status=204, errors=(409,),
        description="409 CONFLICT while the campaign is active: pause it first, since it may be spending.",
    )
    async def delete_campaign(call: Call, campaign_id: uuid.UUID) -> None:
        async with atomic(call.db) as conn:
            await _delete(conn, call.caller.organization_id, campaign_id)

    for action, summary in _ACTION_ROUTES:
        _transition_route(router, action, summary)
    return router


def _transition_route(router: Router, action: Action, summary: str) -> None:
    extra = (" Launch also needs a track, a budget above 0, an end date still ahead, and `budgetSpent` below the"
             " campaign's budget guardrail (409, with a detail per missing field; the message names a passed end"
             " date, and the spend and the guardrail). So a campaign its guardrail paused resumes only once its"
             " budget or `budgetGuardrail.percent` is raised or its guardrail turned off (PATCH, which may carry"
             " `status: active` too); otherwise it would spend on Meta until the next figures paused it again.")
    description = _LIFECYCLE + " " + _CONFLICTS + (extra if action == "launch" else "")
    errors: tuple[int, ...] = (409,)
    if action in _META_STATUS:
        budget = ("in the same write as our budget, as its lifetime budget; a budget we cannot push (another"
                  " currency than the ad account's, a daily budget) does not stop the launch and is kept in"
                  " `metaSync.error`" if action == "launch" else "its budget is left as it is")
        description += _META_PUSH.format(status=_META_STATUS[action], budget=budget)
        errors = tuple(sorted({409, *PROVIDER_ERRORS}))

    async def transition(call: Call, campaign_id: uuid.UUID) -> Campaign:
        return Campaign.of(await change_status(call, campaign_id, action))

    transition.__name__ = f"{action}_campaign"  # the blueprint's endpoint name
    router.route("POST", f"/v1/campaigns/<uuid:campaign_id>/{action}", summary=summary,
                 access=Access.MEMBER, response=Campaign, errors=errors,
                 description=description)(transition)


async def add_campaign(call: Call, body: CampaignCreate) -> store.Campaign:
    """``POST /v1/campaigns``: a new draft campaign (the console's "New campaign" form too)."""
    await _check_audience(call.db, call.caller.organization_id, body.target_audience)
    with store_errors():
        return await store.create_campaign(call.db, call.caller.organization_id, body.new_campaign(),
                                           body.goal_rows())


async def change_status(call: Call, campaign_id: uuid.UUID, action: Action) -> store.Campaign:
    """Apply a routed lifecycle ``action`` (launch, pause, archive) for the caller: pushed to the linked Meta
    campaign first, then the compare-and-set with the launch checks (the guardrail among them). The API's
    action routes and the console's buttons both call it. Raises ``ApiError`` (404, 409, Meta's errors)
    with nothing changed."""
    org_id = call.caller.organization_id
    pushed = await _push_to_meta(call, campaign_id, action) if action in _META_STATUS else None
    async with atomic(call.db) as conn:
        # An empty update locks the row: the status we record as the one before is the one we changed.
        locked = await store.update_campaign(conn, org_id, campaign_id, {})
        if locked is None:
            raise not_found("campaign")
        row = await _transition(conn, org_id, campaign_id, action, _Member.of(call), locked.status)
        if pushed is not None and row.meta_campaign_id is not None:
            row = await campaign_meta.set_meta_effective_status(conn, org_id, row.meta_campaign_id, pushed) or row
    return row


async def update_campaign(call: Call, campaign_id: uuid.UUID, body: CampaignPatch) -> store.Campaign:
    """Change the fields ``body`` gives (then its status, if any) for the caller: a new budget or currency
    pushed to the linked Meta campaign first, the dates checked against the stored ones, the budget change
    in the rules' history. ``PATCH /v1/campaigns/{id}`` and the console's edit form both call it. Raises
    ``ApiError`` (400 naming the field, 404, 409, Meta's errors) with nothing changed."""
    await _push_budget_change(call, campaign_id, body)
    async with atomic(call.db) as conn:
        return await _update(conn, call.caller.organization_id, campaign_id, body, _Member.of(call))


async def _push_to_meta(call: Call, campaign_id: uuid.UUID, action: Action) -> str | None:
    """Set the linked Meta campaign to ``action``'s Meta status and return that status; ``None`` (nothing
    done) when the campaign is not linked or does not exist (the compare-and-set then answers as before).

    We check the transition and the launch blockers first, so that Meta is not started for a campaign we
    would refuse. A concurrent transition can still slip in between the push and our compare-and-set; the
    loser then answers 409 with Meta already switched, which the next launch or pause puts right.

    Error handling: Meta's failures leave through ``meta_client`` as ``INTEGRATION_ERROR`` (502, 409, 503).
    """
    current = await store.get_campaign(call.db, call.caller.organization_id, campaign_id)
    if current is None or current.meta_campaign_id is None:
        return None
    if current.status not in TRANSITIONS[action].sources:
        raise _illegal(current.status, f"cannot {action} a campaign that is {current.status}")
    if action == "launch":
        _check_launchable(current, _Member.of(call))
    status = _META_STATUS[action]
    if action == "launch":  # the status and our budget in one write
        await push_budget(call, current, action="launch", status=status)
        return status
    async with meta_client(call) as (client, _):
        await client.update_campaign(current.meta_campaign_id, status=status, act_id=current.meta_ad_account_id)
    return status


async def _push_budget_change(call: Call, campaign_id: uuid.UUID, body: CampaignPatch) -> None:
    """Push the PATCH's new budget or currency to the linked Meta campaign, if it changes either.

    The checks that do not need the row locked run first, so that Meta is not changed for a PATCH we would
    refuse; one that a concurrent change makes fail after the push (a status the campaign no longer allows)
    leaves Meta with the new budget, which ``metaSync`` then shows and the next push puts right.
    """
    org_id = call.caller.organization_id
    current = await store.get_campaign(call.db, org_id, campaign_id)
    if current is None or current.meta_campaign_id is None:
        return
    budget = current.budget if isinstance(body.budget, UnsetType) else body.budget
    currency = current.currency if isinstance(body.currency, UnsetType) else body.currency
    if (budget, currency) == (current.budget, current.currency):
        return
    await _check_patch(call.db, org_id, current, body)
    await push_budget(call, current, action="set_budget", budget=budget, currency=currency)


def _check_launchable(campaign: store.Campaign, member: _Member) -> None:
    blockers = launch_blockers(has_track=campaign.track_id is not None, budget=campaign.budget,
                               end_date=campaign.end_date, now=member.now)
    trip = tripped(campaign.budget_guardrail, member.guardrail_percent, budget=campaign.budget,
                   budget_spent=campaign.budget_spent, currency=campaign.currency)
    if trip is not None:
        blockers.append(("budgetGuardrail", (
            f"it has spent {trip.budget_spent:.2f} of its {trip.budget:.2f} {trip.currency} budget, at its guardrail"
            f" ({trip.percent} %): raise the budget or budgetGuardrail.percent, or set budgetGuardrail.enabled"
            " to false, to launch it")))
    if blockers:
        raise ApiError(409, "CONFLICT", "the campaign is not ready to launch: " + "; ".join(r for _, r in blockers),
                       [ErrorDetail(field, reason) for field, reason in blockers])


async def _update(conn: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, body: CampaignPatch,
                  member: _Member) -> store.Campaign:
    current = await store.get_campaign(conn, org_id, campaign_id)
    if current is None:
        raise not_found("campaign")
    await _check_patch(conn, org_id, current, body)
    with store_errors():
        try:
            # The UPDATE also locks the row until we commit, so the status we decide on below is final.
            campaign = await store.update_campaign(
                conn, org_id, campaign_id, body.changes(), body.goal_rows(), PauseCause(user_id=member.user_id)
            )
        except asyncpg.CheckViolationError as exc:
            # A concurrent PATCH moved the other date after we read it; other checks stay loud.
            if exc.constraint_name != _WINDOW_CHECK:
                raise
            raise _bad_window("endDate: must be after startDate") from exc
    if campaign is None:
        raise not_found("campaign")
    await manual_actions.record_budget(conn, org_id, campaign_id, before=current.budget, after=campaign.budget,
                                       user_id=member.user_id, at=member.now)
    target = body.status
    if isinstance(target, str) and target != campaign.status:
        action = action_to(campaign.status, target)
        if action is None:
            raise _illegal(campaign.status, f"cannot move a campaign that is {campaign.status} to {target}")
        campaign = await _transition(conn, org_id, campaign_id, action, member, campaign.status)
    return campaign


async def _check_patch(db: Executor, org_id: uuid.UUID, current: store.Campaign, body: CampaignPatch) -> None:
    """400 for a PATCH whose dates, stored or sent, are out of order, or whose audience is not the
    organization's."""
    start = current.start_date if isinstance(body.start_date, UnsetType) else body.start_date
    end = current.end_date if isinstance(body.end_date, UnsetType) else body.end_date
    problem = window_problem(start, end)
    if problem:
        raise _bad_window(problem)
    await _check_audience(db, org_id, body.target_audience)


async def _check_audience(db: Executor, org_id: uuid.UUID, targeting: Targeting | UnsetType) -> None:
    """400 naming ``targetAudience.audienceId`` unless the targeting's audience, if any, is the organization's.

    There is no foreign key behind it (the id lives in the ``target_audience`` jsonb), so an audience
    deleted later, or concurrently with this check, leaves the campaign naming an audience that is gone;
    its insights route then answers 404, which is what such a campaign deserves.
    """
    if isinstance(targeting, UnsetType) or not isinstance(targeting.audience_id, uuid.UUID):
        return
    if await audiences.get_audience(db, org_id, targeting.audience_id) is None:
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail("targetAudience.audienceId", "no such audience in your organization")])


async def _transition(conn: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, action: Action,
                      member: _Member, previous: str) -> store.Campaign:
    """Apply ``action`` with the store's compare-and-set; a pause records the member as its cause, and the
    rules' history the move from ``previous`` (the status the caller read with the row locked). ``conn`` is
    a transaction: a launch whose row turns out to lack a track or a budget, or to be at its guardrail,
    raises, and the caller's rollback undoes the status change."""
    move = TRANSITIONS[action]
    reason = PausedReason(cause=PauseCause(user_id=member.user_id), at=member.now)
    try:
        campaign = await store.set_campaign_status(
            conn, org_id, campaign_id, expected_from=move.sources, to=move.target, reason=reason
        )
    except store.IllegalTransition as exc:
        raise _illegal(exc.current, f"cannot {action} a campaign that is {exc.current}") from exc
    if campaign is None:
        raise not_found("campaign")
    if action == "launch":
        _check_launchable(campaign, member)
    await manual_actions.record_status(conn, org_id, campaign_id, before=previous, after=campaign.status,
                                       user_id=member.user_id, at=member.now)
    return campaign


async def _delete(conn: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
    # An empty update locks the row, so no launch can slip in between our status check and the DELETE.
    campaign = await store.update_campaign(conn, org_id, campaign_id, {})
    if campaign is None:
        raise not_found("campaign")
    if campaign.status == "active":
        raise ApiError(409, "CONFLICT", "an active campaign must be paused before it is deleted",
                       [ErrorDetail("status", "pause the campaign first")])
    await store.delete_campaign(conn, org_id, campaign_id)


def _unset_to_none(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


def _illegal(current: str, message: str) -> ApiError:
    """The 409 for a refused transition. Its detail lists the action routes a client may call from
    ``current``; completing (PATCH status) is left out, since it has no route of its own."""
    routed = [action for action in allowed_actions(current) if action in _ROUTED]
    allowed = ", ".join(routed) or ("none, it is final" if current == "archived" else "none")
    return ApiError(409, "CONFLICT", message, [ErrorDetail("status", f"allowed from {current}: {allowed}")])


def _bad_window(problem: str) -> ApiError:
    field, _, message = problem.partition(": ")
    return ApiError(400, "VALIDATION_ERROR", "Validation failed", [ErrorDetail(field, message)])
