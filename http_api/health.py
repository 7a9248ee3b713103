"""Health routes: liveness (the process answers) and readiness (the database is
reachable and every migration is applied), for load balancers and `make run`.

Readiness is checked live on each call, so an API worker that lost its database
turns 503 without anyone telling it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import msgspec
import trio
from quart import Blueprint, Response

from engine.store.database import Database
from engine.store.migrate import Migration, pending_migrations
from http_api.responses import json_response

__all__ = ["health_blueprint"]

log = logging.getLogger(__name__)

_CHECK_TIMEOUT = 2.0


class Check(msgspec.Struct, frozen=True, omit_defaults=True):
    status: str  # "ok", "starting", "unreachable", "pending"
    detail: str | None = None


class Readiness(msgspec.Struct, frozen=True):
    status: str  # "ready" or "not_ready"
    checks: dict[str, Check]


def health_blueprint(
    database: Callable[[], Database | None], migrations: Sequence[Migration]
) -> Blueprint:
    """``database`` returns the open Database, or None while it is still starting."""
    bp = Blueprint("health", __name__)

    @bp.get("/health")
    @bp.get("/health/live")
    async def live() -> Response:
        return json_response({"status": "ok"})

    @bp.get("/health/ready")
    async def ready() -> Response:
        checks = await _check(database(), migrations)
        ok = all(c.status == "ok" for c in checks.values())
        return json_response(Readiness("ready" if ok else "not_ready", checks), 200 if ok else 503)

    return bp


async def _check(db: Database | None, migrations: Sequence[Migration]) -> dict[str, Check]:
    if db is None:
        return {"database": Check("starting"), "migrations": Check("starting")}
    try:
        with trio.fail_after(_CHECK_TIMEOUT):
            await db.fetchval("SELECT 1")
            pending = await pending_migrations(db, migrations)
    except Exception as exc:  # any failure here is "not ready", reported rather than raised
        log.warning("readiness check failed: %s", exc)
        return {"database": Check("unreachable", type(exc).__name__), "migrations": Check("starting")}
    if pending:
        listed = ", ".join(f"{v:04d}" for v in pending)
        return {"database": Check("ok"), "migrations": Check("pending", f"not applied: {listed}")}
    return {"database": Check("ok"), "migrations": Check("ok")}
