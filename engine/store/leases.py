"""SQL for leases (``engine_leases``): claim, renew, release, and the fence a write under a lease checks.

Every time is the database's (``now()``), never a process's clock, so processes on machines whose clocks
disagree still agree on who holds what. The arithmetic of how many to hold is ``engine.lease_plan``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence

from engine.store.catalog_common import Executor
from engine.store.database import Database

__all__ = ["LEASES_CHANNEL", "claim", "fenced", "held_by", "leave", "live_engine_count", "release", "renew"]

# NOTIFY channel: "leases were released", so the others claim them now instead of at their next renewal.
LEASES_CHANNEL = "engine_leases"


async def claim(db: Database, node_id: uuid.UUID, names: Sequence[str], ttl: float, limit: int) -> dict[str, int]:
    """Claim up to ``limit`` of ``names`` that are free (released, expired, or never claimed), each with a
    new fencing token; return the claimed ones with their tokens. Rows locked by another claim are skipped,
    not waited for, so concurrent processes split the free leases between them."""
    if limit <= 0 or not names:
        return {}
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO engine_leases (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                         list(names))
        rows = await tx.fetch(
            """WITH free AS (
                   SELECT name FROM engine_leases
                    WHERE name = ANY($2::text[]) AND (node_id IS NULL OR expires_at < now())
                    ORDER BY name LIMIT $4 FOR UPDATE SKIP LOCKED)
               UPDATE engine_leases l SET node_id = $1, token = l.token + 1,
                      expires_at = now() + make_interval(secs => $3), claimed_at = now()
                 FROM free WHERE l.name = free.name
               RETURNING l.name, l.token""",
            node_id, list(names), ttl, limit)
    return {row["name"]: row["token"] for row in rows}


async def renew(db: Database, node_id: uuid.UUID, held: Mapping[str, int], ttl: float) -> set[str]:
    """Extend the leases of ``held`` (name → token) that are still ours under the same token; return those.
    A lease missing from the answer was lost: it expired and another process claimed it."""
    if not held:
        return set()
    rows = await db.fetch(
        """UPDATE engine_leases l SET expires_at = now() + make_interval(secs => $4)
             FROM unnest($2::text[], $3::bigint[]) AS mine(name, token)
            WHERE l.name = mine.name AND l.token = mine.token AND l.node_id = $1
           RETURNING l.name""",
        node_id, list(held), list(held.values()), ttl)
    return {row["name"] for row in rows}


async def release(db: Database, node_id: uuid.UUID, names: Iterable[str]) -> None:
    """Give up ``names`` (those we still hold) and tell the others at once (NOTIFY ``LEASES_CHANNEL``)."""
    names = list(names)
    if not names:
        return
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE engine_leases SET node_id = NULL, expires_at = '-infinity'"
            " WHERE node_id = $1 AND name = ANY($2::text[])", node_id, names)
        await tx.execute("SELECT pg_notify($1, '')", LEASES_CHANNEL)


async def leave(db: Database, node_id: uuid.UUID, names: Collection[str] | None = None) -> None:
    """Release the leases ``names`` of ``node_id`` (None: every lease it holds) and mark it stopped, in one
    transaction, then tell the others (NOTIFY ``LEASES_CHANNEL``): woken, they already count one process
    fewer, so their fair share covers what we held and they claim it at once."""
    async with db.transaction() as tx:
        await tx.execute("UPDATE engine_leases SET node_id = NULL, expires_at = '-infinity' WHERE node_id = $1"
                         " AND ($2::text[] IS NULL OR name = ANY($2::text[]))",
                         node_id, None if names is None else list(names))
        await tx.execute("UPDATE engine_nodes SET stopped_at = now() WHERE id = $1", node_id)
        await tx.execute("SELECT pg_notify($1, '')", LEASES_CHANNEL)


async def held_by(db: Database, node_id: uuid.UUID) -> dict[str, int]:
    """The unexpired leases ``node_id`` holds, name → token."""
    rows = await db.fetch("SELECT name, token FROM engine_leases WHERE node_id = $1 AND expires_at > now()",
                          node_id)
    return {row["name"]: row["token"] for row in rows}


async def fenced(conn: Executor, tokens: Mapping[str, int]) -> set[str]:
    """Of the leases ``tokens`` (name → the token a write was made under), the names whose token is no longer
    current: another process claimed them since, so the write must be refused. Run it in the write's
    transaction: it locks the current rows (FOR SHARE), so no claim can commit between the check and the
    write."""
    if not tokens:
        return set()
    rows = await conn.fetch(
        """SELECT mine.name FROM unnest($1::text[], $2::bigint[]) AS mine(name, token)
             LEFT JOIN (SELECT name, token FROM engine_leases WHERE name = ANY($1::text[]) FOR SHARE) l
                    ON l.name = mine.name
            WHERE l.token IS DISTINCT FROM mine.token""",
        list(tokens), list(tokens.values()))
    return {row["name"] for row in rows}


async def live_engine_count(db: Database, within: float) -> int:
    """The engine processes alive now: registered, not stopped, with a heartbeat in the last ``within``
    seconds."""
    value = await db.fetchval(
        "SELECT count(*) FROM engine_nodes WHERE stopped_at IS NULL"
        " AND heartbeat_at > now() - make_interval(secs => $1)", within)
    assert isinstance(value, int)  # count(*) is a bigint
    return value
