"""``GET /metrics`` in Prometheus' text format, and the counting of every HTTP request the app answers.

Not in the OpenAPI document: it is for a Prometheus server, not for the API's clients, and answers text,
not JSON. ``[metrics] mode`` decides who may read it: nobody (``off``: the route does not exist), a scraper
on this machine (``loopback``: the peer is 127.0.0.1 or ::1, or a Unix socket, and the request came through
no proxy, since a reverse proxy on this host would otherwise open it to everyone it forwards), or whoever
presents the bearer token (``token``).
"""

from __future__ import annotations

import hmac
import time

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from quart import Blueprint, Response, g, request
from quart_trio import QuartTrio

from engine.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from engine.metrics_scrape import database_figures, exposition
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.forwarded import from_this_machine

__all__ = ["install_metrics"]

# Requests that matched no route share one label: their paths are the client's choice, so unbounded.
UNMATCHED = "<unmatched>"
# What a reverse proxy adds: a request carrying one came through a proxy, whatever its peer.
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded")


def install_metrics(app: QuartTrio, ctx: ApiContext) -> None:
    """Count ``app``'s requests and serve ``/metrics``, unless ``[metrics] mode`` is ``off``."""
    if ctx.settings.metrics.mode == "off":
        return
    app.before_request(_started)
    app.after_request(_counted)
    app.register_blueprint(_metrics_blueprint(ctx))


def _metrics_blueprint(ctx: ApiContext) -> Blueprint:
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    async def metrics() -> Response:
        _check_access(ctx)
        body = exposition(await database_figures(ctx.database()), ctx.metrics_dir)
        # 0.0.4, which every Prometheus reads: our names and labels are plain ASCII, so 1.0.0 would add nothing.
        return Response(body, status=200, content_type=CONTENT_TYPE_PLAIN_0_0_4)

    return blueprint


def _check_access(ctx: ApiContext) -> None:
    settings = ctx.settings.metrics
    if settings.mode == "token":
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        assert settings.token is not None  # MetricsSettings refuses mode "token" without one
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
            error = ApiError(401, "AUTHENTICATION_ERROR", "the metrics need the bearer token of [metrics] token")
            error.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            raise error
    elif not from_this_machine(request.remote_addr) or any(name in request.headers for name in _PROXY_HEADERS):
        raise ApiError(403, "AUTHORIZATION_ERROR",
                       "the metrics are open to this machine only ([metrics] mode = loopback), not through a proxy")


async def _started() -> None:
    # perf_counter, not the trio clock: a request's real duration, whatever clock the tests mock.
    g.metrics_started = time.perf_counter()


async def _counted(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:  # an answer given before the hooks ran (a 413 on the body) has no start
        HTTP_REQUEST_DURATION.labels(request.method, route).observe(time.perf_counter() - started)
    return response
