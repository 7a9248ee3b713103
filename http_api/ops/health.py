"""Health routes: liveness (the process answers) and readiness (the database is
reachable and every migration is applied), for load balancers and `make run`.

Readiness is checked live on each call, so an API worker that lost its database
turns 503 without anyone telling it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import msgspec
import trio
from quart import Response

from engine.store.database import Database
from engine.store.migrate import Migration, pending_migrations
from http_api.context import ApiContext
from http_api.responses import json_response
from http_api.routing import Access, Call, Router

__all__ = ["health_router"]

log = logging.getLogger(__name__)

_CHECK_TIMEOUT = 2.0


class Live(msgspec.Struct, frozen=True):
    status: Literal["ok"] = "ok"


class Check(msgspec.Struct, frozen=True, omit_defaults=True):
    status: Literal["ok", "starting", "unreachable", "pending"]
    detail: str | None = None


class Readiness(msgspec.Struct, frozen=True):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


def health_router(ctx: ApiContext) -> Router:
    router = Router("health", ctx, tag="Health")

    @router.route("GET", "/health", summary="Liveness (alias of /health/live)", access=Access.PUBLIC,
                  response=Live)
    async def health(call: Call) -> Live:
        return Live()

    @router.route("GET", "/health/live", summary="Liveness: the process answers", access=Access.PUBLIC,
                  response=Live)
    async def live(call: Call) -> Live:
        return Live()

    @router.route(
        "GET", "/health/ready", summary="Readiness: database reachable and migrations applied",
        access=Access.PUBLIC, response=Readiness,
        other_responses=((503, Readiness, "Not ready; the checks say which dependency and why"),),
    )
    async def ready(call: Call) -> Response:
        checks = await _check(call.ctx.database(), call.ctx.migrations)
        ok = all(c.status == "ok" for c in checks.values())
        response = json_response(Readiness("ready" if ok else "not_ready", checks), 200 if ok else 503)
        if not ok:
            response.headers["Retry-After"] = "5"  # a load balancer may ask again then
        return response

    return router


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
