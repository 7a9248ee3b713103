"""The console's engine page, ``GET /app/engine``: what ``GET /v1/engine/status`` reports (its own
function), as tables: the live engine processes, the actors counted by kind and state, and each actor.

The engine is shared by every organization on the server, so, as the API, the page is for admins and
owners; another role gets a page that says so (403).
"""

from __future__ import annotations

from collections import Counter

from quart import Blueprint, Response, render_template

from engine.store.nodes import ActorRow
from http_api.console.acting import acting_call, allowed, layout
from http_api.console.guard import page_session
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.ops.engine_status import read_engine_status
from http_api.routing import Access

__all__ = ["add_engine_routes"]


def _kind(row: ActorRow) -> str:
    """An account actor's kind (``meta`` of ``meta:<account id>``), else the actor's own name."""
    return row.name.partition(":")[0]


def add_engine_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get("/app/engine")
    async def engine_page() -> Response:
        session = await page_session(ctx)
        shown = await layout(ctx, session)
        if not allowed(session, Access.ADMIN):
            html = await render_template("console/engine.html", **shown, role=session.role, report=None)
            return html_page(html, 403)
        report = await read_engine_status(acting_call(ctx, session))
        counts = sorted(Counter((_kind(a), a.state) for a in report.actors).items())
        return html_page(await render_template("console/engine.html", **shown, report=report, counts=counts))
