"""`GET /v1/engine/status`: every live engine node and every actor it supervises,
with state (``starting``, ``running``, ``backing_off`` after a crash, ``waiting_for_database`` while the
database is unreachable, ``failed``, ``stopped``), restarts, last error, next restart time and the actor's own
``detail`` (a flat object of scalars such as an account poller's ``next_poll_at``, or null), read from
PostgreSQL.

The engine is shared by every organization on this server, so this is for the
people who run it: owners and admins. The per-account actors shown are the
caller's organization's own.
"""

from __future__ import annotations

from engine.store import nodes
from http_api.context import ApiContext
from http_api.routing import Access, Call, Router

__all__ = ["engine_status_router", "read_engine_status"]


def engine_status_router(ctx: ApiContext) -> Router:
    router = Router("engine_status", ctx, tag="Engine")

    @router.route("GET", "/v1/engine/status", summary="Engine processes and the state of every actor",
                  access=Access.ADMIN, response=nodes.StatusReport)
    async def engine_status(call: Call) -> nodes.StatusReport:
        return await read_engine_status(call)

    return router


async def read_engine_status(call: Call) -> nodes.StatusReport:
    """The live nodes and their actors: the shared ones and the caller's organization's own accounts'."""
    return await nodes.read_status(call.db, call.caller.organization_id)
