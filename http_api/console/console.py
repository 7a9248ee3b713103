"""The console's Blueprint: its pages (sign-in, overview), templates and stylesheet, and the 403 page a
failed CSRF check answers with. None of its routes is in the OpenAPI document: they are not the API.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from quart import Blueprint, Response, render_template, request

from engine.audit import attribute_task
from engine.jobs import Jobs
from engine.logs import current_request
from http_api.auditing import MUTATING, current_source, request_context
from http_api.console.audiences import add_audiences_routes
from http_api.console.audit import add_audit_routes
from http_api.console.campaign_actions import add_campaign_action_routes
from http_api.console.campaign_edit import add_campaign_edit_routes
from http_api.console.campaign_new import add_campaign_new_routes
from http_api.console.campaigns import add_campaign_routes
from http_api.console.email_links import add_email_link_routes
from http_api.console.engine_status import add_engine_routes
from http_api.console.failures import add_failure_pages
from http_api.console.guard import Refused, SignInFirst
from http_api.console.imports import add_imports_routes
from http_api.console.integrations import add_integrations_routes
from http_api.console.invitation import add_invitation_routes
from http_api.console.organization import add_organization_routes
from http_api.console.overview import add_overview_routes
from http_api.console.privacy import add_privacy_routes
from http_api.console.responses import html_page, redirect_to
from http_api.console.rule_form import add_rule_form_routes
from http_api.console.rules import add_rules_routes
from http_api.console.signin import add_signin_routes
from http_api.console.signup import add_signup_routes
from http_api.console.tracks import add_tracks_routes
from http_api.console.webhooks import add_webhooks_routes
from http_api.context import ApiContext

__all__ = ["console_blueprint"]

_HERE = Path(__file__).parent


def console_blueprint(ctx: ApiContext, jobs: Jobs) -> Blueprint:
    """``/``, ``/login``, ``/logout``, ``/app`` and its pages, and the static files under ``/console/static``;
    ``jobs`` runs the work a page starts (a sync)."""
    bp = Blueprint("console", __name__, template_folder=str(_HERE / "templates"),
                   static_folder=str(_HERE / "static"), static_url_path="/console/static")
    add_signin_routes(bp, ctx)
    add_overview_routes(bp, ctx)
    add_signup_routes(bp, ctx)
    add_email_link_routes(bp, ctx)
    add_invitation_routes(bp, ctx)
    add_campaign_new_routes(bp, ctx)  # before the campaign page: "new" is not an id
    add_campaign_routes(bp, ctx)
    add_campaign_action_routes(bp, ctx)
    add_campaign_edit_routes(bp, ctx)
    add_integrations_routes(bp, ctx, jobs)
    add_webhooks_routes(bp, ctx)
    add_rules_routes(bp, ctx)
    add_rule_form_routes(bp, ctx)
    add_organization_routes(bp, ctx)
    add_privacy_routes(bp, ctx)
    add_engine_routes(bp, ctx)
    add_imports_routes(bp, ctx, jobs)
    add_tracks_routes(bp, ctx)
    add_audiences_routes(bp, ctx)
    add_audit_routes(bp, ctx)
    add_failure_pages(bp)

    # Async: Quart runs a sync hook in a thread, whose context would not reach the handler.
    @bp.before_request
    async def anonymous_forms() -> None:  # a signed-in form's session names its user (``acting.form_session``)
        if request.method in MUTATING:
            attribute_task(request_context(current_source()))

    @bp.context_processor
    def request_id() -> dict[str, str | None]:  # the error pages show it, to quote when asking for help
        return {"request_id": current_request.get()}

    @bp.errorhandler(Refused)
    async def refused(error: Refused) -> Response:
        html = await render_template("console/refused.html", reason=error.reason)
        return html_page(html, 403)

    @bp.errorhandler(SignInFirst)
    async def sign_in_first(error: SignInFirst) -> Response:
        return redirect_to(f"/login?next={quote(error.next_path)}")

    return bp
