"""The console's rules pages (docs/rules.md): ``GET /app/rules`` lists the organization's rules with what
each watches and does, when it last fired and how often, with enable and disable buttons; ``GET
/app/rules/<id>`` shows one rule and the history of its firings, with links to edit and delete it
(``rule_form.py``).

The buttons are form POSTs (origin and CSRF checked, the member role as the API asks) through the API's own
``set_rule_status``. Another organization's rule is a 404 page.
"""

from __future__ import annotations

import uuid
from typing import Literal

from quart import Blueprint, Response, render_template, request

from engine.rules.model import Comparison, Condition, Rule
from engine.store import rule_runs
from engine.store import rules as store
from engine.store.sessions import SessionCheck
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.campaigns import HistoryRow
from http_api.console.guard import page_session
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page, redirect_to
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown
from http_api.routing import Access
from http_api.rules.rules import set_rule_status

__all__ = ["add_rules_routes", "condition_text"]

_PAGE = "/app/rules"
_HISTORY_SHOWN = 50


def condition_text(condition: Condition) -> str:
    """``costPerIncrementalStream over 48 h greater_than 0.05``, as a person reads the condition (``spend so far
    gte 2 * budget so far`` for a comparison)."""
    window = f" over {condition.duration_hours} h" if condition.duration_hours else " so far"
    value = condition.value
    if isinstance(value, Comparison):
        other = f" over {value.duration_hours} h" if value.duration_hours else " so far"
        expected = f"{value.multiplier} * {value.field}{other}"
    elif isinstance(value, list):
        expected = "[" + ", ".join(value) + "]"
    else:
        expected = value
    return f"{condition.field}{window} {condition.operator} {expected}"


def _summary(rule: Rule) -> str:
    joined = f" {rule.spec.match} of: " if len(rule.spec.conditions) > 1 else ""
    return joined + "; ".join(condition_text(c) for c in rule.spec.conditions)


def add_rules_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def rules_page() -> Response:
        session = await page_session(ctx)
        return await _list_page(ctx, session)

    @bp.get(f"{_PAGE}/<uuid:rule_id>")
    async def rule_page(rule_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        rule = await store.get_rule(ctx.db(), session.organization_id, rule_id)
        if rule is None:
            return await not_found_page("rule")
        runs = await rule_runs.list_runs(ctx.db(), session.organization_id, rule_id=rule_id, limit=_HISTORY_SHOWN)
        html = await render_template("console/rule.html", **await layout(ctx, session), rule=rule,
                                     summary=_summary(rule), history=[HistoryRow.of(run) for run in runs.items],
                                     may_change=allowed(session, Access.MEMBER),
                                     flash=request.cookies.get(FLASH_COOKIE))
        return flash_shown(html_page(html))

    for verb, status in (("enable", "active"), ("disable", "inactive")):
        _status_button(bp, ctx, verb, status)  # type: ignore[arg-type]


def _status_button(bp: Blueprint, ctx: ApiContext, verb: str, status: Literal["active", "inactive"]) -> None:
    async def press(rule_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        try:
            await set_rule_status(acting_call(ctx, session), rule_id, status)
        except ApiError as error:
            if error.status == 404:
                return await not_found_page("rule")
            raise
        return redirect_to(_PAGE)

    press.__name__ = f"{verb}_rule_button"  # the blueprint's endpoint name
    bp.post(f"{_PAGE}/<uuid:rule_id>/{verb}")(press)


async def _list_page(ctx: ApiContext, session: SessionCheck) -> Response:
    found = await store.list_rules(ctx.db(), session.organization_id, limit=100)
    rows = [(rule, _summary(rule)) for rule in found.items]
    html = await render_template("console/rules.html", **await layout(ctx, session), rules=rows,
                                 more=found.total - len(rows), may_change=allowed(session, Access.MEMBER),
                                 flash=request.cookies.get(FLASH_COOKIE))
    return flash_shown(html_page(html))
