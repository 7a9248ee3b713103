"""SQL for leases (``engine_leases``): claim, renew, release, and the fence a write under a lease checks.

Every time is the database's (``now()``), never a process's clock, so processes on machines whose clocks
disagree still agree on who holds what. The arithmetic of how many to hold is ``engine.lease_plan``'s.

A write an account actor makes under its lease runs in ``fenced_transaction`` (or calls ``fence`` first in
a transaction of its own), which raises ``LeaseLost`` before anything is written when another engine process
claimed the lease since; a batch of samples of many leases uses ``fenced`` and drops the stale ones.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager

from engine.lease_plan import Lease
from engine.metrics import FENCED_WRITES
from engine.store.catalog_common import Executor
from engine.store.database import Connection, Database
from engine.store.errors import StoreError

__all__ = [
    "LEASES_CHANNEL", "LeaseLost", "claim", "fence", "fenced", "fenced_transaction", "held_by", "leave",
    "live_engine_count", "release", "renew",
]  # fmt: skip

log = logging.getLogger(__name__)

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
    transaction: it locks the current rows until the transaction ends, so no claim can commit between the
    check and the write. The lock is ``FOR KEY SHARE``, the weakest that does it: a claim locks ``FOR
    UPDATE SKIP LOCKED`` and so skips the row, while the holder's renewals and releases (updates of no key
    column) are not held up by a long transaction, such as a token refresh waiting on its provider."""
    if not tokens:
        return set()
    rows = await conn.fetch(
        """SELECT mine.name FROM unnest($1::text[], $2::bigint[]) AS mine(name, token)
             LEFT JOIN (SELECT name, token FROM engine_leases WHERE name = ANY($1::text[]) FOR KEY SHARE) l
                    ON l.name = mine.name
            WHERE l.token IS DISTINCT FROM mine.token""",
        list(tokens), list(tokens.values()))
    return {row["name"] for row in rows}


class LeaseLost(StoreError):
    """A ``write`` (a short fixed name, the metric's label) made under ``lease`` was refused: another engine
    process claimed the lease since, with a larger token. Nothing was written; the actor must stop."""

    def __init__(self, lease: Lease, write: str) -> None:
        super().__init__(f"lease {lease.name} lost to another engine process; {write} refused")
        self.lease, self.write = lease, write


async def fence(tx: Connection, lease: Lease, write: str) -> None:
    """Raise ``LeaseLost`` (counted in ``songtrack_fenced_writes_total{write}``, logged) when ``lease``'s token is
    no longer current. Call it in the write's transaction before writing: the lease row stays locked until the
    transaction ends, so no claim can commit between the check and the write (``fenced``)."""
    if await fenced(tx, {lease.name: lease.token}):
        FENCED_WRITES.labels(write).inc()
        log.warning("%s: refused a %s write made under token %d: another engine process holds the lease now",
                    lease.name, write, lease.token)
        raise LeaseLost(lease, write)


@asynccontextmanager
async def fenced_transaction(db: Database, lease: Lease, write: str) -> AsyncIterator[Connection]:
    """A transaction whose first statement is ``fence(tx, lease, write)``: its block runs only while ``lease``
    is current, and commits before any claim of it can. Raises ``LeaseLost`` before the block runs."""
    async with db.transaction() as tx:
        await fence(tx, lease, write)
        yield tx


async def live_engine_count(db: Database, within: float) -> int:
    """The engine processes alive now: registered, not stopped, with a heartbeat in the last ``within``
    seconds."""
    value = await db.fetchval(
        "SELECT count(*) FROM engine_nodes WHERE stopped_at IS NULL"
        " AND heartbeat_at > now() - make_interval(secs => $1)", within)
    assert isinstance(value, int)  # count(*) is a bigint
    return value
