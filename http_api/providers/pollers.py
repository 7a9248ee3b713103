"""How the API shows a connected account: its row without tokens, and its ``poller``, what its actor last
published about itself (the ``engine_actors`` row named ``meta:<integration id>`` or
``spotify:<integration id>``, through ``engine.store.nodes``), or null when no live engine process runs one.
The console's integrations page shows the same view.
"""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec

from engine.store import integrations as store
from engine.store import nodes
from engine.store.database import Database

__all__ = ["IntegrationOut", "PollerOut", "integration_out", "integrations_with_pollers"]

# Supervisor states in which the actor's own detail is stale: it crashed, or lost the database, and could
# not say so itself.
_CRASHED = frozenset({"backing_off", "failed", "waiting_for_database"})

log = logging.getLogger(__name__)


class PollerOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The account's actor as it last reported itself: ``state`` is the poller's own (``waiting``,
    ``parked``, ``backing_off``, ``needs_reauth``…) or, after a crash, the supervisor's."""

    state: str
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    parked_until: datetime | None = None


class _Said(msgspec.Struct, frozen=True):
    """The keys of an actor's ``detail`` that the poller view uses; the others are ignored."""

    state: str | None = None
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    parked_until: datetime | None = None


class IntegrationOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    provider: store.Provider
    status: store.IntegrationStatus
    external_account_id: str
    display_name: str
    scopes: list[str]
    token_expires_at: datetime | None
    connected_at: datetime
    poller: PollerOut | None = None


def integration_out(row: store.Integration, poller: PollerOut | None = None) -> IntegrationOut:
    return IntegrationOut(provider=row.provider, status=row.status, external_account_id=row.external_account_id,
                          display_name=row.display_name, scopes=row.scopes, token_expires_at=row.token_expires_at,
                          connected_at=row.updated_at, poller=poller)


def _actor_name(row: store.Integration) -> str | None:
    """The name its actor publishes under (``actors.accounts``: ``<kind>:<account key>``), None if it has none."""
    return f"{row.provider}:{row.id}" if row.provider in ("meta", "spotify") else None


def _poller(actor: nodes.ActorRow | None) -> PollerOut | None:
    if actor is None:
        return None
    try:
        said = msgspec.convert(actor.detail or {}, _Said)
    except msgspec.ValidationError:
        log.warning("%s: unreadable detail %r; showing the supervisor's view", actor.name, actor.detail)
        said = _Said()
    if actor.detail is None or said.state is None or actor.state in _CRASHED:
        return PollerOut(state=actor.state, next_poll_at=actor.next_restart_at, last_success_at=said.last_success_at,
                         last_error=actor.last_error, consecutive_failures=said.consecutive_failures,
                         parked_until=said.parked_until)
    return PollerOut(state=said.state, next_poll_at=said.next_poll_at, last_success_at=said.last_success_at,
                     last_error=said.last_error, consecutive_failures=said.consecutive_failures,
                     parked_until=said.parked_until)


async def integrations_with_pollers(db: Database, rows: list[store.Integration]) -> list[IntegrationOut]:
    names = [name for row in rows if (name := _actor_name(row)) is not None]
    actors = await nodes.live_actors(db, names) if names else {}

    def poller(row: store.Integration) -> PollerOut | None:
        name = _actor_name(row)
        return None if name is None else _poller(actors.get(name))

    return [integration_out(row, poller(row)) for row in rows]
