"""SQL for the engine's visible status: which engine processes (nodes) are alive
and the state of every actor they supervise.

The API reads these rows rather than any process's memory, so every API worker
and every engine process sees the same picture. The row Structs encode with the
API's camelCase names, since `/v1/engine/status` returns them as they are; an
actor's ``detail`` (its own account of itself) is stored as a jsonb object and
returned with the keys the actor chose.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from engine.registry import ActorStatus, Detail
from engine.store.database import Database

__all__ = [
    "ActorRow",
    "NodeRow",
    "StatusReport",
    "actor_counts",
    "heartbeat",
    "live_actors",
    "live_nodes_on",
    "mark_node_stopped",
    "publish_actors",
    "read_status",
    "register_node",
]

# A node whose heartbeat is older than this is presumed dead and left out of the status.
NODE_TIMEOUT_SECONDS = 30
_LIVE = f"n.stopped_at IS NULL AND n.heartbeat_at > now() - interval '{NODE_TIMEOUT_SECONDS} seconds'"
_ACTOR_COLUMNS = "a.node_id, a.name, a.state, a.restarts, a.last_error, a.next_restart_at, a.since, a.detail"

# asyncpg exchanges jsonb as text (we register no codec).
_detail_decoder = msgspec.json.Decoder(Detail | None)


class NodeRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A live engine process and the unexpired leases it holds (``engine_leases``, docs/scaling.md)."""

    id: uuid.UUID
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    accounts: int = 0  # the account actors' leases it holds, every organization's: a count, never names
    own_accounts: list[str] = msgspec.field(default_factory=list)  # those of the reader's organization, by name
    singletons: list[str] = msgspec.field(default_factory=list)  # the "singleton:…" leases it holds


class ActorRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    node_id: uuid.UUID
    name: str
    state: str
    restarts: int
    last_error: str | None
    next_restart_at: datetime | None
    since: datetime
    detail: Detail | None = None  # the actor's own words (ActorStatus.detail), None when it says nothing


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


async def heartbeat(db: Database, node_id: uuid.UUID) -> None:
    """Mark the node alive now (the status publisher does it with each publication, the lease keeper with
    each renewal)."""
    await db.execute("UPDATE engine_nodes SET heartbeat_at = now() WHERE id = $1", node_id)


async def live_nodes_on(db: Database, hostname: str) -> list[tuple[uuid.UUID, int]]:
    """The nodes registered from ``hostname`` that are not marked stopped: (id, pid) each."""
    rows = await db.fetch("SELECT id, pid FROM engine_nodes WHERE hostname = $1 AND stopped_at IS NULL", hostname)
    return [(row["id"], row["pid"]) for row in rows]


async def publish_actors(db: Database, node_id: uuid.UUID, actors: Sequence[ActorStatus],
                         gone: Sequence[str] | None = None) -> None:
    """Write the node's actor rows and refresh its heartbeat, atomically: with ``gone`` None, replace every
    row of the node with ``actors``; else write ``actors`` (those that changed) and delete the rows named
    in ``gone``, leaving the others as they are (20,000 account actors are not rewritten for each change)."""
    rows = [
        (node_id, a.name, str(a.state), a.restarts, a.last_error, a.next_restart_at, a.since,
         None if a.detail is None else msgspec.json.encode(a.detail).decode())
        for a in actors
    ]
    async with db.transaction() as tx:
        await tx.execute("UPDATE engine_nodes SET heartbeat_at = now() WHERE id = $1", node_id)
        if gone is None:
            await tx.execute("DELETE FROM engine_actors WHERE node_id = $1 AND NOT (name = ANY($2::text[]))",
                             node_id, [a.name for a in actors])
        elif gone:
            await tx.execute("DELETE FROM engine_actors WHERE node_id = $1 AND name = ANY($2::text[])",
                             node_id, list(gone))
        if rows:
            await tx.executemany(
                """INSERT INTO engine_actors
                       (node_id, name, state, restarts, last_error, next_restart_at, since, detail, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now())
                   ON CONFLICT (node_id, name) DO UPDATE SET
                       state = EXCLUDED.state, restarts = EXCLUDED.restarts,
                       last_error = EXCLUDED.last_error, next_restart_at = EXCLUDED.next_restart_at,
                       since = EXCLUDED.since, detail = EXCLUDED.detail, updated_at = now()""",
                rows,
            )


async def mark_node_stopped(db: Database, node_id: uuid.UUID) -> None:
    await db.execute("UPDATE engine_nodes SET stopped_at = now() WHERE id = $1", node_id)


# Account actors are named "<kind>:<account id>" (actors/accounts.py); these are the organization's.
_OWN_ACCOUNT_ACTORS = (
    "SELECT provider || ':' || id FROM integrations WHERE organization_id = $1"  # meta:…, spotify:…
    " UNION ALL SELECT 'spotify-listener:' || id FROM listener_accounts WHERE organization_id = $1"
)


async def read_status(db: Database, org_id: uuid.UUID) -> StatusReport:
    """Live nodes (heartbeat within NODE_TIMEOUT_SECONDS, not stopped) with the leases each holds, and their
    actors: the shared ones (supervisors, aggregator, dispatcher) and, of the per-account actors, only
    ``org_id``'s own. Of the account leases, every organization's are counted and only ``org_id``'s named."""
    nodes = await db.fetch(
        f"SELECT n.id, n.hostname, n.pid, n.started_at, n.heartbeat_at FROM engine_nodes n WHERE {_LIVE}"
        " ORDER BY n.started_at"
    )
    leases = await _leases_by_node(db, org_id, [row["id"] for row in nodes])
    actors = await db.fetch(
        f"SELECT {_ACTOR_COLUMNS} FROM engine_actors a JOIN engine_nodes n ON n.id = a.node_id WHERE {_LIVE}"
        f" AND (strpos(a.name, ':') = 0 OR a.name IN ({_OWN_ACCOUNT_ACTORS})) ORDER BY a.name, a.node_id",
        org_id,
    )
    return StatusReport(
        nodes=[_node_row(r, leases.get(r["id"])) for r in nodes],
        actors=[_actor_row(r) for r in actors],
    )


async def _leases_by_node(db: Database, org_id: uuid.UUID,
                          node_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """The leases each of ``node_ids`` holds (one holding no unexpired lease is absent), as ``NodeRow``'s
    fields, aggregated here so that 20,000 accounts cost one row a node, not one a lease."""
    rows = await db.fetch(
        "SELECT l.node_id,"
        " count(*) FILTER (WHERE l.name NOT LIKE 'singleton:%') AS accounts,"
        f" array_agg(l.name ORDER BY l.name) FILTER (WHERE l.name IN ({_OWN_ACCOUNT_ACTORS})) AS own_accounts,"
        " array_agg(l.name ORDER BY l.name) FILTER (WHERE l.name LIKE 'singleton:%') AS singletons"
        " FROM engine_leases l WHERE l.node_id = ANY($2::uuid[]) AND l.expires_at > now() GROUP BY l.node_id",
        org_id, list(node_ids),
    )
    return {row["node_id"]: row for row in rows}


def _node_row(node: asyncpg.Record, leases: asyncpg.Record | None) -> NodeRow:
    if leases is None:
        return NodeRow(**node)
    return NodeRow(**node, accounts=leases["accounts"], own_accounts=leases["own_accounts"] or [],
                   singletons=leases["singletons"] or [])


async def live_actors(db: Database, names: Sequence[str]) -> dict[str, ActorRow]:
    """The rows of the actors named ``names`` on live nodes, by name; a name no live node runs is absent.

    Should two live nodes report the same name (a hand-over between processes), the row written last wins.
    """
    rows = await db.fetch(
        f"SELECT DISTINCT ON (a.name) {_ACTOR_COLUMNS}"
        f" FROM engine_actors a JOIN engine_nodes n ON n.id = a.node_id WHERE {_LIVE} AND a.name = ANY($1::text[])"
        " ORDER BY a.name, a.updated_at DESC, a.node_id",
        list(names),
    )
    return {row["name"]: _actor_row(row) for row in rows}


def _actor_row(record: asyncpg.Record) -> ActorRow:
    fields = dict(record)
    detail = fields.pop("detail")
    return ActorRow(**fields, detail=None if detail is None else _detail_decoder.decode(detail))


async def actor_counts(db: Database) -> dict[tuple[str, str], int]:
    """How many actors of the live nodes are in each state, by kind (the name without its account key, as
    ``engine.metrics.actor_kind`` reads it), over every organization: (kind, state) → count."""
    rows = await db.fetch(
        f"SELECT split_part(a.name, ':', 1) AS kind, a.state, count(*) AS n"
        f" FROM engine_actors a JOIN engine_nodes n ON n.id = a.node_id WHERE {_LIVE} GROUP BY 1, 2"
    )
    return {(row["kind"], row["state"]): int(row["n"]) for row in rows}
