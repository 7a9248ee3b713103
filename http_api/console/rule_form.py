"""The console's rule editor: ``/app/rules/new`` and ``/app/rules/<id>/edit`` build a rule without JSON
(``rule_fields``: the form as data), ``/app/rules/<id>/delete`` deletes one after asking.

One form, four buttons, all plain POSTs to the form's own URL: ``add_condition`` and ``remove_condition``
(its value the row) re-render the form with a row more or less; ``preview`` runs the API's preview
(``http_api.rules.preview.preview_spec``) of the rule as it stands over the chosen past days and shows its
firings under the form, saving nothing; anything else saves it through the API's own ``create_rule`` or
``update_rule``. An API error is shown next to the field its JSON path names. Changes need the member role,
as the API asks; another organization's rule is a 404 page.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from quart import Blueprint, Response, render_template, request

from engine.analytics.days import utc_day
from engine.rules.model import FIELDS, OPERATORS, Rule
from engine.store import campaigns, tracks
from engine.store import rules as store
from engine.store.sessions import SessionCheck
from http_api.console.acting import acting_call, form_session, layout
from http_api.console.guard import Refused, page_session
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.console.rule_fields import (
    MAX_CONDITIONS,
    ConditionRow,
    RuleForm,
    field_of,
    form_of_spec,
    posted_form,
    spec_of,
)
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import land_in_console
from http_api.routing import Access
from http_api.rules.preview import DEFAULT_DAYS, Preview, RulePreview, preview_spec
from http_api.rules.rules import create_rule, delete_rule, update_rule
from http_api.rules.schemas import RuleCreate, RulePatch
from http_api.validation import validate

__all__ = ["add_rule_form_routes"]

_PAGE = "/app/rules"
_CHOICES = 100  # campaigns and tracks offered to pick from, newest first
_FIRINGS_SHOWN = 200
_ACTIONS = {"pause_campaign": "Pause the campaign", "resume_campaign": "Resume the campaign",
            "adjust_budget": "Change its budget", "send_alert": "Notify the members",
            "webhook": "Send rule.triggered to the webhooks only"}


class _Editing:
    """What one request edits: a new rule (``rule`` None) or a stored one."""

    def __init__(self, session: SessionCheck, rule: Rule | None) -> None:
        self.session, self.rule = session, rule

    @property
    def url(self) -> str:
        return f"{_PAGE}/new" if self.rule is None else f"{_PAGE}/{self.rule.id}/edit"


def add_rule_form_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(f"{_PAGE}/new")
    async def new_rule_page() -> Response:
        session = await _member_page(ctx)
        return await _editor(ctx, _Editing(session, None), RuleForm())

    @bp.post(f"{_PAGE}/new")
    async def new_rule_form() -> Response:
        return await _submitted(ctx, _Editing(await form_session(ctx, Access.MEMBER), None))

    @bp.get(f"{_PAGE}/<uuid:rule_id>/edit")
    async def edit_rule_page(rule_id: uuid.UUID) -> Response:
        session = await _member_page(ctx)
        rule = await store.get_rule(ctx.db(), session.organization_id, rule_id)
        if rule is None:
            return await not_found_page("rule")
        form = form_of_spec(rule.spec, name=rule.name, description=rule.description, dry_run=rule.dry_run)
        return await _editor(ctx, _Editing(session, rule), form)

    @bp.post(f"{_PAGE}/<uuid:rule_id>/edit")
    async def edit_rule_form(rule_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        rule = await store.get_rule(ctx.db(), session.organization_id, rule_id)
        if rule is None:
            return await not_found_page("rule")
        return await _submitted(ctx, _Editing(session, rule))

    _add_delete_routes(bp, ctx)


def _add_delete_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(f"{_PAGE}/<uuid:rule_id>/delete")
    async def delete_rule_page(rule_id: uuid.UUID) -> Response:
        session = await _member_page(ctx)
        rule = await store.get_rule(ctx.db(), session.organization_id, rule_id)
        if rule is None:
            return await not_found_page("rule")
        return html_page(await render_template("console/rule_delete.html", **await layout(ctx, session), rule=rule))

    @bp.post(f"{_PAGE}/<uuid:rule_id>/delete")
    async def delete_rule_button(rule_id: uuid.UUID) -> Response:
        session = await form_session(ctx, Access.MEMBER)
        rule = await store.get_rule(ctx.db(), session.organization_id, rule_id)
        try:
            await delete_rule(acting_call(ctx, session), rule_id)
        except ApiError as error:
            if error.status == 404:
                return await not_found_page("rule")
            raise
        name = rule.name if rule else "The rule"
        return land_in_console(f"{name} is deleted, with its history.", public_url=ctx.public_url, page=_PAGE)


async def _member_page(ctx: ApiContext) -> SessionCheck:
    """The signed-in member of an editor page; a viewer is refused (the server checks the POST again)."""
    session = await page_session(ctx)
    if session.role == "viewer":
        raise Refused("changing rules needs the member role or higher; you are a viewer")
    return session


async def _submitted(ctx: ApiContext, editing: _Editing) -> Response:
    posted = await request.form
    rows = max(1, min(MAX_CONDITIONS, _count(posted.get("condition_count", "1"))))
    form = posted_form(posted, {key: posted.getlist(key) for key in ("campaigns", "tracks")}, rows)
    if "add_condition" in posted and len(form.conditions) < MAX_CONDITIONS:
        form.conditions.append(ConditionRow())
        return await _editor(ctx, editing, form, focus=f"c{len(form.conditions) - 1}_field")
    if "remove_condition" in posted and len(form.conditions) > 1:
        del form.conditions[min(_count(posted["remove_condition"]), len(form.conditions) - 1)]
        return await _editor(ctx, editing, form)
    if "preview" in posted:
        return await _previewed(ctx, editing, form, posted.get("preview_days", ""), posted.get("preview_campaign", ""))
    return await _saved(ctx, editing, form)


def _count(text: str) -> int:
    return int(text) if text.isdigit() else 0


async def _saved(ctx: ApiContext, editing: _Editing, form: RuleForm) -> Response:
    call = acting_call(ctx, editing.session)
    try:
        if editing.rule is None:
            rule = await create_rule(call, validate(spec_of(form), RuleCreate))
        else:
            rule = await update_rule(call, editing.rule.id, validate(spec_of(form), RulePatch))
    except ApiError as error:
        return await _refused(ctx, editing, form, error)
    done = "created" if editing.rule is None else "saved"
    return land_in_console(f"{rule.name} is {done}.", public_url=ctx.public_url, page=f"{_PAGE}/{rule.id}")


async def _previewed(ctx: ApiContext, editing: _Editing, form: RuleForm, days_text: str, campaign: str) -> Response:
    window = {"days": days_text or str(DEFAULT_DAYS), "campaign": campaign}
    days = _count(window["days"])
    if days < 1:
        return await _editor(ctx, editing, form, window=window, status=400,
                             errors={"preview_days": "a whole number of days, 1 or more"})
    call = acting_call(ctx, editing.session)
    members: dict[str, Any] = spec_of(form) | {"startDate": str(utc_day(ctx.domain_now()) - timedelta(days=days - 1))}
    if campaign:
        members["campaignIds"] = [campaign]
    try:
        answer = await preview_spec(call, validate(members, RulePreview))
    except ApiError as error:
        return await _refused(ctx, editing, form, error, window=window)
    return await _editor(ctx, editing, form, window=window, preview=answer.data)


async def _refused(ctx: ApiContext, editing: _Editing, form: RuleForm, error: ApiError,
                   window: dict[str, str] | None = None) -> Response:
    errors: dict[str, str] = {}
    for detail in error.details:
        errors.setdefault(field_of(detail.field), detail.message)
    return await _editor(ctx, editing, form, window=window, status=error.status, errors=errors,
                         problem=None if errors else error.message)


async def _editor(ctx: ApiContext, editing: _Editing, form: RuleForm, *, status: int = 200,
                  errors: dict[str, str] | None = None, problem: str | None = None, focus: str | None = None,
                  window: dict[str, str] | None = None, preview: Preview | None = None) -> Response:
    db, org_id = ctx.db(), editing.session.organization_id
    found = await campaigns.list_campaigns(db, org_id, limit=_CHOICES)
    songs = await tracks.list_tracks(db, org_id, limit=_CHOICES)
    html = await render_template(
        "console/rule_form.html", **await layout(ctx, editing.session), form=form, rule=editing.rule,
        action_url=editing.url, errors=errors or {}, problem=problem, focus=focus, fields=list(FIELDS),
        operators=OPERATORS, actions=_ACTIONS, max_conditions=MAX_CONDITIONS,
        campaigns=_choices([(str(c.id), c.name) for c in found.items], form.campaigns),
        tracks=_choices([(str(t.id), f"{t.title} by {t.artist}") for t in songs.items], form.tracks),
        window=window or {"days": str(DEFAULT_DAYS), "campaign": ""}, preview=preview,
        firings=(preview.firings[:_FIRINGS_SHOWN] if preview else []),
    )  # fmt: skip
    return html_page(html, status)


def _choices(offered: list[tuple[str, str]], chosen: list[str]) -> list[tuple[str, str]]:
    """The options to pick from: the newest ones, and those already chosen (by their id when older), so
    saving a form never drops a choice it did not show."""
    shown = {value for value, _ in offered}
    return offered + [(value, value) for value in chosen if value not in shown]
