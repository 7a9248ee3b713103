"""The small app an engine process without the API (``songtrack engine``) serves on its own port: the same
health routes and ``/metrics`` as the API's (``health.py``, ``metrics.py``), and nothing else, so a load
balancer or an orchestrator probes it, and Prometheus scrapes it, exactly as an API process.

Readiness is the API's: the database reachable and every migration applied.
"""

from __future__ import annotations

from quart_trio import QuartTrio

from http_api.context import ApiContext
from http_api.errors import install_error_handlers
from http_api.ops.health import health_router
from http_api.ops.metrics import install_metrics

__all__ = ["create_probe_app"]


def create_probe_app(ctx: ApiContext) -> QuartTrio:
    """``/health``, ``/health/live``, ``/health/ready`` and (unless ``[metrics] mode`` is off) ``/metrics``."""
    app = QuartTrio(__name__)
    install_error_handlers(app)
    install_metrics(app, ctx)
    app.register_blueprint(health_router(ctx).blueprint)
    return app
