"""`GET /v1/engine/status`: every live engine node and every actor it supervises,
with state (``starting``, ``running``, ``backing_off`` after a crash, ``waiting_for_database`` while the
database is unreachable, ``failed``, ``stopped``), restarts, last error, next restart time and the actor's own
``detail`` (a flat object of scalars such as an account poller's ``next_poll_at``, or null), read from
PostgreSQL.

Each node also shows the leases it holds (docs/scaling.md): how many account actors it runs, every
organization's, as a count; the caller's organization's among them by name; and its singletons by name.

The engine is shared by every organization on this server, so this is for the
people who run it: owners and admins. The per-account actors and leases named are
the caller's organization's own: which accounts other labels have is not theirs to see.
"""

from __future__ import annotations

from engine.store import nodes
from http_api.context import ApiContext
from http_api.routing import Access, Call, Router

__all__ = ["engine_status_router", "read_engine_status"]


def engine_status_router(ctx: ApiContext) -> Router:
    router = Router("engine_status", ctx, tag="Engine")

    @router.route("GET", "/v1/engine/status", summary="Engine processes and the state of every actor",
                  access=Access.ADMIN, response=nodes.StatusReport,
                  description="`nodes`: every live engine process (`songtrack run` or `songtrack engine`) with"
                              " the leases it holds: `accounts` counts its account actors, every"
                              " organization's; `ownAccounts` names those of your organization"
                              " (`meta:<integration id>`, `spotify:<integration id>`,"
                              " `spotify-listener:<listener id>`); `singletons` names the `singleton:` leases it"
                              " holds. `actors`: the shared actors and your organization's account actors.")
    async def engine_status(call: Call) -> nodes.StatusReport:
        return await read_engine_status(call)

    return router


async def read_engine_status(call: Call) -> nodes.StatusReport:
    """The live nodes and their actors: the shared ones and the caller's organization's own accounts'."""
    return await nodes.read_status(call.db, call.caller.organization_id)
