"""Numbered SQL migrations: finding them on disk, applying the pending ones, and reporting what is pending.

It owns the ``schema_migrations`` table and the rules around it (one transaction per migration, runners
serialized by an advisory lock, shipped migrations are immutable); the schema itself lives in ``migrations/``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import msgspec

from engine.store.database import Connection, Database

__all__ = [
    "MIGRATIONS_DIR",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "discover",
    "pending_migrations",
]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

# Any bigint works as long as every runner uses the same one; a readable one shows up in pg_locks.
_LOCK_KEY = int.from_bytes(b"songtrk", "big")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class Migration(msgspec.Struct, frozen=True):
    """One ``NNNN_name.sql`` file: its version, name, SQL text and the sha256 of its bytes."""

    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


class MigrationError(Exception):
    """A migration could not be found, applied or trusted; the message names the file and the cause."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every ``*.sql`` file of ``directory`` as a Migration, sorted by version.

    Raises ``MigrationError`` for a ``.sql`` file not named ``NNNN_name.sql`` (lowercase name) or for two
    files with the same version. Other files are ignored.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migrations must be named NNNN_name.sql (0002_alerts.sql)")
        data = path.read_bytes()
        checksum = hashlib.sha256(data).hexdigest()
        migration = Migration(int(match[1]), match[2], data.decode("utf-8"), checksum)
        if (other := found.get(migration.version)) is not None:
            raise MigrationError(f"{path.name}: version {migration.version} is also used by {other.filename}")
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


async def apply_migrations(db: Database, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply the migrations not applied yet, in order; return the versions applied by this call.

    Each migration runs in its own transaction together with the insert of its record, so a failing one
    leaves nothing behind (the ones before it stay applied). Concurrent runners (several processes
    starting at once) are serialized by an advisory lock, and each migration is applied exactly once.

    Error handling: raises ``MigrationError`` when a migration fails (naming its file and the database's
    message) or when an applied migration's file has changed since; ``StoreUnavailable`` as usual. Because a
    migration runs inside a transaction, statements that refuse one (``CREATE INDEX CONCURRENTLY``) cannot
    be used.
    """
    migrations = discover() if migrations is None else migrations
    async with db.transaction() as conn:
        await _lock(conn)
        await conn.execute(_CREATE_TABLE)
        applied = await _applied(conn)
    _check_unchanged(migrations, applied)
    done: list[int] = []
    for migration in migrations:
        if migration.version not in applied and await _apply_one(db, migration):
            done.append(migration.version)
    return done


async def pending_migrations(db: Database, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Versions of ``migrations`` (default: those shipped) not applied yet; all of them if the
    ``schema_migrations`` table does not exist. Read-only, takes no lock."""
    migrations = discover() if migrations is None else migrations
    if await db.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return [m.version for m in migrations]
    rows = await db.fetch("SELECT version FROM schema_migrations")
    applied = {row["version"] for row in rows}
    return [m.version for m in migrations if m.version not in applied]


async def _apply_one(db: Database, migration: Migration) -> bool:
    """Apply ``migration`` unless another runner did meanwhile; True if we applied it."""
    async with db.transaction() as conn:
        await _lock(conn)
        # Checked again under the lock: another runner may have applied it since we looked.
        if migration.version in await _applied(conn):
            return False
        try:
            await conn.execute(migration.sql)
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"{migration.filename}: {type(exc).__name__}: {exc}") from exc
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )
    logger.info("applied migration %s", migration.filename)
    return True


async def _lock(conn: Connection) -> None:
    # A transaction-level lock is released by COMMIT/ROLLBACK, so a crashed runner can never keep it.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)


async def _applied(conn: Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


def _check_unchanged(migrations: Sequence[Migration], applied: dict[int, str]) -> None:
    for migration in migrations:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationError(
                f"{migration.filename}: it was applied with checksum {checksum[:12]}… but the file now has "
                f"{migration.checksum[:12]}…; shipped migrations must not be edited, add a new one instead"
            )
