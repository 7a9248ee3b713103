"""The Quart-Trio application factory: routes, the error envelope, the OpenAPI
document. The app reaches the rest of the service only through the ApiContext
and the handles it is given (``engine.live.LiveFeed``, ``engine.jobs.Jobs``); it
opens no database and starts no actor or background task itself.
"""

from __future__ import annotations

import ipaddress
from importlib.metadata import version

import msgspec
from quart_trio import QuartTrio

from engine.jobs import Jobs
from engine.live import LiveFeed
from http_api.access_log import with_access_log
from http_api.analytics.analytics import analytics_router
from http_api.analytics.exports import reports_router
from http_api.analytics.imports import UploadRequest, imports_router
from http_api.assets import STATIC, assets_blueprint
from http_api.auth.auth import auth_router
from http_api.auth.email import auth_email_router
from http_api.auth.sessions import sessions_router
from http_api.catalog.audiences import audiences_router
from http_api.catalog.campaigns import campaigns_router
from http_api.catalog.tracks import tracks_router
from http_api.console.console import console_blueprint
from http_api.context import ApiContext
from http_api.cors import allow_cross_origin
from http_api.errors import install_error_handlers
from http_api.forwarded import forwarded_client
from http_api.live.streaming import streaming_router
from http_api.live.wire import with_raw_frames
from http_api.live.ws import live_blueprint
from http_api.openapi import build_openapi, docs_blueprint
from http_api.ops.dev import dev_router
from http_api.ops.engine_status import engine_status_router
from http_api.ops.health import health_router
from http_api.ops.metrics import install_metrics
from http_api.organizations.audit_logs import audit_logs_router
from http_api.organizations.organizations import organizations_router
from http_api.privacy.routes import privacy_router
from http_api.providers.consents import consents_router
from http_api.providers.integrations import integrations_router
from http_api.providers.listeners import listeners_router
from http_api.providers.meta import meta_router
from http_api.providers.meta_conversions import meta_conversions_router
from http_api.providers.meta_pixels import meta_pixels_router
from http_api.providers.spotify import SpotifyIdText, spotify_router
from http_api.providers.sync_runs import sync_runs_router
from http_api.request_ids import with_request_ids
from http_api.routing import Router
from http_api.rules.history import history_router
from http_api.rules.preview import preview_router
from http_api.rules.rules import rules_router
from http_api.tracing import install_tracing, with_tracing
from http_api.webhooks.alerts import alerts_router
from http_api.webhooks.webhooks import webhooks_router

__all__ = ["create_app"]

# Bodies larger than this are refused with 413 before any handler reads them.
MAX_BODY_BYTES = 1 * 1024 * 1024


def create_app(ctx: ApiContext, *, live: LiveFeed, jobs: Jobs) -> QuartTrio:
    """The app, its WebSocket routes fed by ``live`` and its background work started with ``jobs``."""
    app = QuartTrio(__name__)
    app.request_class = UploadRequest  # the upload route takes bigger bodies
    app.url_map.converters["spotify_id"] = SpotifyIdText
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in ctx.settings.server.proxies()]
    # Outermost first: hypercorn's stream is kept for the live frames, the client's address is settled before
    # the request id is, both before the request's span starts (it carries the id), and all before the access
    # line is written.
    app.asgi_app = with_raw_frames(forwarded_client(  # type: ignore[method-assign,assignment]
        with_request_ids(with_tracing(with_access_log(app.asgi_app))), trusted))
    install_tracing(app)
    install_error_handlers(app)
    install_metrics(app, ctx)  # for Prometheus, not the API's clients: not in the OpenAPI document
    routers: list[Router] = [
        health_router(ctx), auth_router(ctx), auth_email_router(ctx), sessions_router(ctx),
        organizations_router(ctx), campaigns_router(ctx), tracks_router(ctx), audiences_router(ctx),
        audit_logs_router(ctx),
        integrations_router(ctx), meta_conversions_router(ctx), meta_pixels_router(ctx),
        engine_status_router(ctx), dev_router(ctx),
        spotify_router(ctx), meta_router(ctx), listeners_router(ctx), sync_runs_router(ctx, jobs),
        webhooks_router(ctx),
        alerts_router(ctx), rules_router(ctx), preview_router(ctx), history_router(ctx),
        streaming_router(ctx), analytics_router(ctx), imports_router(ctx, jobs),
        reports_router(ctx, jobs),
        privacy_router(ctx), consents_router(ctx),
    ]
    for router in routers:  # the API's routes: pages elsewhere may call them (the console's may not)
        allow_cross_origin(router.blueprint, ctx.settings.server.origins())
        app.register_blueprint(router.blueprint)
    endpoints = [endpoint for router in routers for endpoint in router.endpoints]
    app.register_blueprint(live_blueprint(ctx, live))
    app.register_blueprint(console_blueprint(ctx, jobs))  # pages for people: not in the OpenAPI document
    document = build_openapi(endpoints, version=version("songtrackpro"))
    app.register_blueprint(docs_blueprint(msgspec.json.encode(document)))
    # The console's scripts: each file name carries its version, so a browser may keep it for good.
    app.register_blueprint(assets_blueprint("vendor", STATIC / "vendor", "/static/vendor",
                                            "public, max-age=31536000, immutable"))
    return app

