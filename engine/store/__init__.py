"""The store: the only code that talks to PostgreSQL (pool, transactions, LISTEN/NOTIFY, migrations, and the
zero-config embedded server). It holds no business rules."""

from __future__ import annotations

from engine.store.bridge import AsyncioThread, BridgeClosed, open_asyncio_thread
from engine.store.database import Connection, Database, open_database
from engine.store.embedded import EmbeddedPostgres, EmbeddedPostgresError, PostgresNotFound, find_binaries
from engine.store.errors import DatabaseRefused, StoreError, StoreUnavailable
from engine.store.migrate import (
    MIGRATIONS_DIR,
    Migration,
    MigrationError,
    apply_migrations,
    discover,
    pending_migrations,
)
from engine.store.notifications import Notification, Subscription

__all__ = [
    "MIGRATIONS_DIR",
    "AsyncioThread",
    "BridgeClosed",
    "Connection",
    "Database",
    "DatabaseRefused",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "Migration",
    "MigrationError",
    "Notification",
    "PostgresNotFound",
    "StoreError",
    "StoreUnavailable",
    "Subscription",
    "apply_migrations",
    "discover",
    "find_binaries",
    "open_asyncio_thread",
    "open_database",
    "pending_migrations",
]
