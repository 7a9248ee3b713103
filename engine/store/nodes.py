"""SQL for the engine's visible status: which engine processes (nodes) are alive
and the state of every actor they supervise.

The API reads these rows rather than any process's memory, so every API worker
and every engine process sees the same picture. The row Structs encode with the
API's camelCase names, since `/v1/engine/status` returns them as they are.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from engine.registry import ActorStatus
from engine.store.database import Database

__all__ = ["ActorRow", "NodeRow", "StatusReport", "mark_node_stopped", "publish_actors", "read_status",
           "register_node"]

# A node whose heartbeat is older than this is presumed dead and left out of the status.
NODE_TIMEOUT_SECONDS = 30


class NodeRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class ActorRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    node_id: uuid.UUID
    name: str
    state: str
    restarts: int
    last_error: str | None
    next_restart_at: datetime | None
    since: datetime


class StatusReport(msgspec.Struct, frozen=True):
    nodes: list[NodeRow]
    actors: list[ActorRow]


async def register_node(db: Database) -> uuid.UUID:
    """Insert this process as a live node and clear out nodes dead for more than a day."""
    node_id = uuid.uuid4()
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM engine_nodes WHERE heartbeat_at < now() - interval '1 day'")
        await tx.execute(
            "INSERT INTO engine_nodes (id, hostname, pid) VALUES ($1, $2, $3)",
            node_id, socket.gethostname(), os.getpid(),
        )
    return node_id


async def publish_actors(db: Database, node_id: uuid.UUID, actors: Sequence[ActorStatus]) -> None:
    """Replace the node's actor rows with ``actors`` and refresh its heartbeat, atomically."""
    rows = [
        (node_id, a.name, str(a.state), a.restarts, a.last_error, a.next_restart_at, a.since)
        for a in actors
    ]
    async with db.transaction() as tx:
        await tx.execute("UPDATE engine_nodes SET heartbeat_at = now() WHERE id = $1", node_id)
        await tx.execute(
            "DELETE FROM engine_actors WHERE node_id = $1 AND NOT (name = ANY($2::text[]))",
            node_id, [a.name for a in actors],
        )
        await tx.executemany(
            """INSERT INTO engine_actors
                   (node_id, name, state, restarts, last_error, next_restart_at, since, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, now())
               ON CONFLICT (node_id, name) DO UPDATE SET
                   state = EXCLUDED.state, restarts = EXCLUDED.restarts,
                   last_error = EXCLUDED.last_error, next_restart_at = EXCLUDED.next_restart_at,
                   since = EXCLUDED.since, updated_at = now()""",
            rows,
        )


async def mark_node_stopped(db: Database, node_id: uuid.UUID) -> None:
    await db.execute("UPDATE engine_nodes SET stopped_at = now() WHERE id = $1", node_id)


async def read_status(db: Database) -> StatusReport:
    """Live nodes (heartbeat within NODE_TIMEOUT_SECONDS, not stopped) and their actors."""
    live = f"stopped_at IS NULL AND heartbeat_at > now() - interval '{NODE_TIMEOUT_SECONDS} seconds'"
    nodes = await db.fetch(
        f"SELECT id, hostname, pid, started_at, heartbeat_at FROM engine_nodes WHERE {live}"
        " ORDER BY started_at"
    )
    actors = await db.fetch(
        "SELECT a.node_id, a.name, a.state, a.restarts, a.last_error, a.next_restart_at, a.since"
        f" FROM engine_actors a JOIN engine_nodes n ON n.id = a.node_id WHERE {live}"
        " ORDER BY a.name, a.node_id"
    )
    return StatusReport(
        nodes=[NodeRow(**r) for r in nodes],
        actors=[ActorRow(**r) for r in actors],
    )
