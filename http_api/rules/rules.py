"""`/v1/rules`: an organization's rules (docs/rules.md), created, changed, enabled and disabled by its
members and read by everyone in it. What a rule means is ``engine.rules.model``'s; evaluating and acting is
the engine's, not ours. Another organization's rule answers 404, and an ``appliesTo`` naming another
organization's campaign or track answers 422 as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from msgspec import UnsetType

from engine.rules.model import RuleSpec, RuleSpecError, parse_spec
from engine.store import rules as store
from engine.store.catalog_common import Executor
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.pagination import Pagination
from http_api.routing import Access, Call, Router
from http_api.rules.schemas import Rule, RuleCreate, RuleList, RulePatch, RuleQuery, Status, spec_json

__all__ = [
    "RULE_FAULTS", "checked_spec", "create_rule", "delete_rule", "invalid", "rules_router", "set_rule_status",
    "update_rule",
]  # fmt: skip

RULE_FAULTS = (
    " 422 VALIDATION_ERROR when the rule is not valid (an unknown field or operator, a value that does not suit"
    " its field, an action's config, an id in `appliesTo` that is not your organization's): the detail names the"
    " member's path, such as `condition.operator` or `appliesTo.campaigns[0]`. 400 when the body is not JSON"
    " of this shape (a `name` that is not text, an unknown top-level member)."
)


def invalid(field: str, message: str) -> ApiError:
    """The 422 for a body that is JSON of the right shape but not a rule: one detail naming ``field``."""
    return ApiError(422, "VALIDATION_ERROR", "Validation failed", [ErrorDetail(field, message)])


async def checked_spec(db: Executor, org_id: uuid.UUID, members: dict[str, Any], *, scope: bool = True) -> RuleSpec:
    """The spec of ``members`` (the API's JSON), its ``appliesTo`` ids the organization's unless ``scope`` is
    False (a stored scope, whose campaign may have been deleted since: that is no fault of the change); raises
    the 422."""
    try:
        spec = parse_spec(members)
    except RuleSpecError as exc:
        raise invalid(exc.field, exc.message) from None
    foreign = await store.foreign_targets(db, org_id, spec.applies_to) if scope else []
    if foreign:
        raise ApiError(422, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail(path, "no such campaign or track in your organization") for path in foreign])
    return spec


def rules_router(ctx: ApiContext) -> Router:
    router = Router("rules", ctx, tag="Rules")

    @router.route("GET", "/v1/rules", summary="List rules", access=Access.VIEWER, query=RuleQuery,
                  response=RuleList,
                  description="In their evaluation order: rules act in the order they were created (then by id).")
    async def list_rules(call: Call) -> RuleList:
        query: RuleQuery = call.query
        status = None if isinstance(query.status, UnsetType) else query.status
        page = await store.list_rules(call.db, call.caller.organization_id, status=status, limit=query.limit,
                                      offset=query.offset)
        return RuleList(rules=[Rule.of(rule) for rule in page.items], pagination=Pagination.of(page))

    @router.route("POST", "/v1/rules", summary="Create a rule", access=Access.MEMBER, body=RuleCreate,
                  response=Rule, status=201, errors=(422,), description="Give `condition` or `conditions`."
                  + RULE_FAULTS)
    async def create_rule_route(call: Call) -> Rule:
        return await create_rule(call, call.body)

    @router.route("GET", "/v1/rules/<uuid:rule_id>", summary="Get a rule", access=Access.VIEWER, response=Rule)
    async def get_rule(call: Call, rule_id: uuid.UUID) -> Rule:
        rule = await store.get_rule(call.db, call.caller.organization_id, rule_id)
        if rule is None:
            raise not_found("rule")
        return Rule.of(rule)

    @router.route("PATCH", "/v1/rules/<uuid:rule_id>", summary="Change some of a rule's members",
                  access=Access.MEMBER, body=RulePatch, response=Rule, errors=(422,),
                  description="The members sent replace the stored ones; the rule is then checked whole."
                              + RULE_FAULTS)
    async def update_rule_route(call: Call, rule_id: uuid.UUID) -> Rule:
        return await update_rule(call, rule_id, call.body)

    @router.route("DELETE", "/v1/rules/<uuid:rule_id>", summary="Delete a rule", access=Access.MEMBER, status=204,
                  description="Its history and cooldowns go with it.")
    async def delete_rule_route(call: Call, rule_id: uuid.UUID) -> None:
        await delete_rule(call, rule_id)

    _status_route(router, "active", "enable")
    _status_route(router, "inactive", "disable")
    return router


async def create_rule(call: Call, body: RuleCreate) -> Rule:
    """A new rule of the caller's organization from ``body``; raises the 422 naming the faulty member. The
    console's rule editor calls it too."""
    org_id = call.caller.organization_id
    spec = await checked_spec(call.db, org_id, body.spec_members())
    rule = await store.create_rule(call.db, org_id, name=body.name, description=body.description,
                                   status=body.status, dry_run=body.dry_run, spec=spec,
                                   created_by=call.caller.user_id, now=call.ctx.domain_now())
    return Rule.of(rule)


async def update_rule(call: Call, rule_id: uuid.UUID, body: RulePatch) -> Rule:
    """The members of ``body`` over the stored rule's, checked whole; raises 404 or the 422. The console's
    rule editor calls it too."""
    org_id = call.caller.organization_id
    changes = body.changes()
    members = body.spec_members()
    if members:
        current = await store.get_rule(call.db, org_id, rule_id)
        if current is None:
            raise not_found("rule")
        stored = spec_json(current.spec)
        if "condition" in members:
            del stored["conditions"]
        changes["spec"] = await checked_spec(call.db, org_id, stored | members, scope="appliesTo" in members)
    return await _update(call, rule_id, changes)


async def delete_rule(call: Call, rule_id: uuid.UUID) -> None:
    """Delete the caller's organization's rule (its history goes with it); raises 404 when it has none."""
    if not await store.delete_rule(call.db, call.caller.organization_id, rule_id):
        raise not_found("rule")


async def _update(call: Call, rule_id: uuid.UUID, changes: dict[str, object]) -> Rule:
    rule = await store.update_rule(call.db, call.caller.organization_id, rule_id, changes,
                                   now=call.ctx.domain_now())
    if rule is None:
        raise not_found("rule")
    return Rule.of(rule)


async def set_rule_status(call: Call, rule_id: uuid.UUID, status: Status) -> Rule:
    """Enable (``active``) or disable (``inactive``) the caller's organization's rule; raises 404 when it has
    no such rule. The console's buttons call it too."""
    return await _update(call, rule_id, {"status": status})


def _status_route(router: Router, status: Status, verb: str) -> None:
    async def set_status(call: Call, rule_id: uuid.UUID) -> Rule:
        return await set_rule_status(call, rule_id, status)

    set_status.__name__ = f"{verb}_rule"  # the blueprint's endpoint name
    router.route("POST", f"/v1/rules/<uuid:rule_id>/{verb}", summary=f"{verb.capitalize()} a rule",
                 access=Access.MEMBER, response=Rule,
                 description=f"Sets `status` to {status} (as PATCH does); doing it twice is harmless.")(set_status)
