"""`POST /v1/rules/preview` and `POST /v1/rules/{id}/preview`: a rule run over the stored history of
campaigns, without acting (``engine.rules.decide.preview``), so a label sees when it would have fired and
what it would have done before switching it on.

Evaluation instants: one per UTC day of the period, at the day's last second (23:59:59 UTC), or now for
today; only the days of each campaign's flight. Each campaign starts from its current budget and
guardrail, as active (it was running then); the rule's own simulated actions carry over from one day to
the next (a pause holds, a budget step compounds), and so does its cooldown.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import msgspec
import trio
from msgspec import UNSET, Meta, UnsetType

from engine.analytics.days import utc_day
from engine.rules.actions import CampaignState
from engine.rules.decide import Limits, preview
from engine.rules.evaluate import ConditionResult, applies
from engine.rules.figures import CampaignHistory
from engine.rules.model import Action, RuleSpec
from engine.store import campaigns, rule_inputs
from engine.store import rules as store
from http_api.analytics.analytics import analytics_rules
from http_api.context import ApiContext
from http_api.errors import not_found
from http_api.fields import Day, day_of
from http_api.routing import Access, Call, Router
from http_api.rules.rules import RULE_FAULTS, checked_spec, invalid
from http_api.rules.schemas import RulePatch

__all__ = [
    "DEFAULT_DAYS", "MAX_DAYS", "Firing", "Preview", "PreviewAnswer", "PreviewWindow", "RulePreview", "preview_router",
    "preview_spec",
]  # fmt: skip

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The campaigns that may have run: a draft never did.
_RAN = ("active", "paused", "completed", "archived")
CampaignIds = Annotated[list[uuid.UUID], Meta(min_length=1, max_length=100,
                                                description="The campaigns to run it on (default: every campaign"
                                                            " it applies to whose flight overlaps the period)")]
_WINDOW = (" The period is `startDate` to `endDate`, both included (default: the last 30 days up to today; at"
           " most 366). Evaluation instants: each UTC day's last second (23:59:59 UTC), or now for today, on the"
           " days of each campaign's flight; each campaign starts from its current budget and guardrail, as"
           " active. The rule's own actions carry over from day to day, as its cooldown does; nothing is changed.")


class PreviewWindow(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Which campaigns and days to run a stored rule over (all optional)."""

    campaign_ids: CampaignIds | UnsetType = UNSET
    start_date: Day | UnsetType = UNSET
    end_date: Day | UnsetType = UNSET


class RulePreview(RulePatch, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A rule's body, as for creating one (its ``name``, ``description``, ``status`` and ``dryRun`` may be
    sent, and change nothing), and which campaigns and days to run it over."""

    campaign_ids: CampaignIds | UnsetType = UNSET
    start_date: Day | UnsetType = UNSET
    end_date: Day | UnsetType = UNSET


class Firing(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One instant the rule would have fired on a campaign: the conditions as evaluated, and what its action
    would have done (``outcome`` applied or refused, with why, and the campaign's values before and after)."""

    at: datetime
    campaign_id: uuid.UUID
    campaign_name: str
    conditions: list[ConditionResult]
    outcome: Literal["applied", "refused"]
    detail: str | None
    before: dict[str, str]
    after: dict[str, str]


class Preview(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The rule's firings over the period, oldest first; ``campaigns`` it ran on, ``evaluations`` made."""

    start_date: date
    end_date: date
    action: Action
    campaigns: int
    evaluations: int
    firings: list[Firing]


class PreviewAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The preview under ``data``: a report, not a list, so it has no resource name of its own."""

    data: Preview


def preview_router(ctx: ApiContext) -> Router:
    router = Router("rule_preview", ctx, tag="Rules")
    limits = _limits(ctx)

    @router.route("POST", "/v1/rules/preview", summary="Preview a rule over past days", access=Access.VIEWER,
                  body=RulePreview, response=PreviewAnswer, errors=(422,),
                  description="When the rule would have fired, and what it would have done." + _WINDOW
                              + RULE_FAULTS + " 422 also names `campaignIds[i]` that are not your organization's"
                              " campaigns, and an `endDate` before `startDate` or too far from it.")
    async def preview_spec_route(call: Call) -> PreviewAnswer:
        return await preview_spec(call, call.body)

    @router.route("POST", "/v1/rules/<uuid:rule_id>/preview", summary="Preview a rule over past days",
                  access=Access.VIEWER, body=PreviewWindow, response=PreviewAnswer, errors=(422,),
                  description="As `POST /v1/rules/preview`, for a stored rule (whatever its status)." + _WINDOW
                              + " 422 names `campaignIds[i]` that are not your organization's campaigns, and an"
                                " `endDate` before `startDate` or too far from it.")
    async def preview_rule(call: Call, rule_id: uuid.UUID) -> PreviewAnswer:
        body: PreviewWindow = call.body
        rule = await store.get_rule(call.db, call.caller.organization_id, rule_id)
        if rule is None:
            raise not_found("rule")
        return await _run(call, rule.spec, body.campaign_ids, body.start_date, body.end_date, limits)

    return router


def _limits(ctx: ApiContext) -> Limits:
    return Limits(baseline=analytics_rules(ctx).rule(), max_budget_step=ctx.settings.rules.max_budget_step,
                  guardrail_percent=ctx.settings.rules.guardrail_percent)


async def preview_spec(call: Call, body: RulePreview) -> PreviewAnswer:
    """``body``'s rule run over the stored history, without saving or acting; raises the 422 naming the faulty
    member. The console's rule editor calls it too."""
    spec = await checked_spec(call.db, call.caller.organization_id, body.spec_members())
    return await _run(call, spec, body.campaign_ids, body.start_date, body.end_date, _limits(call.ctx))


def _period(start: str | UnsetType, end: str | UnsetType, today: date) -> tuple[date, date]:
    last = today if isinstance(end, UnsetType) else day_of(end)
    # The first days of year 1 have no 30 days before them: the period starts on the first day there is.
    default_first = last - min(timedelta(days=DEFAULT_DAYS - 1), last - date.min)
    first = default_first if isinstance(start, UnsetType) else day_of(start)
    if last < first:
        raise invalid("endDate", "must not be before startDate")
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid("endDate", f"a period may span at most {MAX_DAYS} days")
    return first, last


async def _run(call: Call, spec: RuleSpec, chosen: list[uuid.UUID] | UnsetType, start: str | UnsetType,
               end: str | UnsetType, limits: Limits) -> PreviewAnswer:
    org_id, now = call.caller.organization_id, call.ctx.domain_now()
    first, last = _period(start, end, utc_day(now))
    if isinstance(chosen, UnsetType):
        scope = spec.applies_to
        ids = await rule_inputs.rule_campaign_ids(call.db, org_id, statuses=_RAN, campaigns=scope.campaigns,
                                                  tracks=scope.tracks)
    else:
        known = await campaigns.statuses_of(call.db, org_id, chosen)
        missing = [i for i, campaign_id in enumerate(chosen) if campaign_id not in known]
        if missing:
            raise invalid(f"campaignIds[{missing[0]}]", "no such campaign in your organization")
        ids = list(dict.fromkeys(chosen))
    loaded = await rule_inputs.load_histories(call.db, org_id, ids, baseline_days=limits.baseline.days)
    runs = [(loaded[i][0], loaded[i][1], _instants(loaded[i][0], first, last, now)) for i in ids if i in loaded]
    runs = [run for run in runs if run[2] and applies(spec, run[0])]
    # Pure and CPU-bound over many campaigns: off the event loop, so other requests go on meanwhile.
    firings = await trio.to_thread.run_sync(_fire, spec, runs, limits)
    return PreviewAnswer(data=Preview(start_date=first, end_date=last, action=spec.action, campaigns=len(runs),
                                      evaluations=sum(len(run[2]) for run in runs), firings=firings))


def _instants(history: CampaignHistory, first: date, last: date, now: datetime) -> list[datetime]:
    """The period's evaluation instants within the campaign's flight: each UTC day's last second, or now."""
    start, end = max(first, utc_day(history.start_date)), min(last, utc_day(history.end_date))
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    moments = (min(now, datetime.combine(day, time(23, 59, 59), UTC)) for day in days)
    return sorted({moment for moment in moments if moment >= history.start_date})


def _fire(spec: RuleSpec, runs: list[tuple[CampaignHistory, CampaignState, list[datetime]]],
          limits: Limits) -> list[Firing]:
    firings: list[Firing] = []
    for history, state, instants in runs:
        ran = msgspec.structs.replace(state, status="active", paused_by=None)
        for fired in preview(spec, history, ran, instants, limits=limits):
            firings.append(Firing(
                at=fired.at, campaign_id=history.campaign_id, campaign_name=history.name,
                conditions=msgspec.convert(fired.conditions, list[ConditionResult]),
                outcome="refused" if fired.outcome == "refused" else "applied", detail=fired.detail,
                before=fired.before, after=fired.after))  # fmt: skip
    return sorted(firings, key=lambda firing: firing.at)
