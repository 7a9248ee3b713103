"""The Quart-Trio application factory: routes, error envelope, nothing else.

The app reaches the rest of the service only through what ``create_app`` is
given; it opens no database and starts no actor itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from quart_trio import QuartTrio

from engine.store.database import Database
from engine.store.migrate import Migration
from http_api.engine_status import engine_status_blueprint
from http_api.errors import install_error_handlers
from http_api.health import health_blueprint

__all__ = ["create_app"]

# Bodies larger than this are refused with 413 before any handler reads them.
MAX_BODY_BYTES = 1 * 1024 * 1024


def create_app(database: Callable[[], Database | None], migrations: Sequence[Migration]) -> QuartTrio:
    """Build the app. ``database`` returns the open Database, or None while it starts."""
    app = QuartTrio(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    install_error_handlers(app)
    app.register_blueprint(health_blueprint(database, migrations))
    app.register_blueprint(engine_status_blueprint(database))
    return app
