"""`GET /v1/engine/status`: every live engine node and every actor it supervises,
with state, restarts, last error and next restart time, read from PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

from quart import Blueprint, Response

from engine.store import nodes
from engine.store.database import Database
from http_api.errors import ApiError
from http_api.responses import json_response

__all__ = ["engine_status_blueprint"]


def engine_status_blueprint(database: Callable[[], Database | None]) -> Blueprint:
    bp = Blueprint("engine_status", __name__, url_prefix="/v1/engine")

    @bp.get("/status")
    async def status() -> Response:
        db = database()
        if db is None:
            raise ApiError(503, "SERVICE_UNAVAILABLE", "the database is still starting")
        return json_response(await nodes.read_status(db))

    return bp
