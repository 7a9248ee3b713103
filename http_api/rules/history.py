"""The rules' history (``engine.store.rule_runs``): every firing of a rule, with the figures it saw, what it
did and what Meta answered, and every pause, launch, resume and budget change a member made by hand
(``manual``), per rule and per campaign, newest first. Read only: the engine and the campaign routes write it.
"""

from __future__ import annotations

import uuid

import msgspec

from engine.store import campaigns, rule_runs
from engine.store import rules as store
from http_api.context import ApiContext
from http_api.errors import not_found
from http_api.pagination import ListQuery, Pagination
from http_api.routing import Access, Call, Router

__all__ = ["HistoryList", "history_router"]

_ENTRY = (
    " Each entry: the rule (`ruleId`, `ruleName`; null for a member's own action, `manual` true with its"
    " `userId`), `dryRun`, `at`, the figures the rule saw (`inputs`), the `action` ({type, config}), its"
    " `outcome` (applied, unchanged, refused, dry_run) and `detail`, the campaign's values `before` and"
    " `after`, and Meta's answer (`meta`, null when nothing was written to Meta or it has not answered yet)."
)


class HistoryList(msgspec.Struct, frozen=True, kw_only=True):
    history: list[rule_runs.Run]
    pagination: Pagination


def history_router(ctx: ApiContext) -> Router:
    router = Router("rule_history", ctx, tag="Rules")

    @router.route("GET", "/v1/rules/<uuid:rule_id>/history", summary="List a rule's firings",
                  access=Access.VIEWER, query=ListQuery, response=HistoryList,
                  description="Every firing of the rule, on any campaign, newest first." + _ENTRY)
    async def rule_history(call: Call, rule_id: uuid.UUID) -> HistoryList:
        org_id = call.caller.organization_id
        if await store.get_rule(call.db, org_id, rule_id) is None:
            raise not_found("rule")
        return await _page(call, rule_id=rule_id)

    @router.route("GET", "/v1/campaigns/<uuid:campaign_id>/history", summary="List the actions on a campaign",
                  access=Access.VIEWER, query=ListQuery, response=HistoryList,
                  description="Every firing of any rule on the campaign, and every action a member took on it"
                              " by hand, newest first." + _ENTRY)
    async def campaign_history(call: Call, campaign_id: uuid.UUID) -> HistoryList:
        org_id = call.caller.organization_id
        if not await campaigns.statuses_of(call.db, org_id, [campaign_id]):
            raise not_found("campaign")
        return await _page(call, campaign_id=campaign_id)

    return router


async def _page(call: Call, *, rule_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None
                ) -> HistoryList:
    query: ListQuery = call.query
    page = await rule_runs.list_runs(call.db, call.caller.organization_id, rule_id=rule_id, campaign_id=campaign_id,
                                     limit=query.limit, offset=query.offset)
    return HistoryList(history=page.items, pagination=Pagination.of(page))
