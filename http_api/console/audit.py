"""The console's audit log page, ``GET /app/audit``: what ``GET /v1/audit-logs`` lists (its own function and
query), filtered by a GET form (who, action, object type and id, a range of UTC days), newest first, with the
changed fields before and after. As the API, it is for admins and owners; another role gets a page that says so
(403).
"""

from __future__ import annotations

from datetime import date, timedelta

from quart import Blueprint, Response, render_template, request

from engine.store import accounts
from http_api.console.acting import acting_call, allowed, layout
from http_api.console.guard import page_session
from http_api.console.listing import page_links
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.organizations.audit_logs import AuditLogQuery, read_audit_log
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_audit_routes"]

_PAGE = "/app/audit"
_FIELDS = ("actorId", "action", "objectType", "objectId", "limit", "offset")


def add_audit_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def audit_page() -> Response:
        session = await page_session(ctx)
        shown = await layout(ctx, session)
        if not allowed(session, Access.ADMIN):
            return html_page(await render_template("console/audit.html", **shown, role=session.role, page=None), 403)
        given = {key: value for key, value in request.args.items() if value != "" and key in (*_FIELDS, "fromDay",
                                                                                                "toDay")}
        query, errors = _query(given)
        page = await read_audit_log(acting_call(ctx, session), query)
        members = await accounts.list_members(ctx.db(), session.organization_id)
        return html_page(await render_template("console/audit.html", **shown, page=page, given=given, errors=errors,
                                               members=members, **page_links(_PAGE, given, page)))


def _query(given: dict[str, str]) -> tuple[AuditLogQuery, dict[str, str]]:
    """The API's query for the form: its days are whole UTC days, ``toDay`` included; refused fields and
    their messages (the query then being the defaults)."""
    asked: dict[str, str] = {key: given[key] for key in _FIELDS if key in given}
    try:
        if "fromDay" in given:
            asked["from"] = f"{date.fromisoformat(given['fromDay'])}T00:00:00Z"
        if "toDay" in given:
            asked["to"] = f"{date.fromisoformat(given['toDay']) + timedelta(days=1)}T00:00:00Z"
    except ValueError:
        return AuditLogQuery(), {"days": "a day is YYYY-MM-DD"}
    try:
        return validate(asked, AuditLogQuery, strict=False, where="query"), {}
    except ApiError as error:
        return AuditLogQuery(), {detail.field: detail.message for detail in error.details}
