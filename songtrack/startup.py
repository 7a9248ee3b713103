"""Opening the database for a service that is already up: the embedded server or the configured one, waited
for when it is not up yet, while the API answers 503 and a signal can still stop us at once.

Part of the composition root (``runtime.py``), split out of it for size.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import trio

from config import Settings, data_path
from engine.store.database import Database, open_database
from engine.store.embedded import EmbeddedPostgres
from songtrack.shutdown import Shutdown

__all__ = ["DatabaseSlot", "StartRefused", "connect", "database_server", "open_store"]

log = logging.getLogger(__name__)


class StartRefused(Exception):
    """This process must not go on starting: a configuration problem (exit 2); the message is the whole story."""


class DatabaseSlot:
    """Where the API finds the database once it is open (None until then: it answers 503)."""

    def __init__(self) -> None:
        self.db: Database | None = None

    def get(self) -> Database | None:
        return self.db

    async def give_up_on(self, shutdown: Shutdown, waiting: trio.CancelScope) -> None:
        """Cancel ``waiting`` if ``shutdown`` is requested before the database is open: a signal during the
        wait for a database that is down stops the process at once, not after the shutdown grace."""
        await shutdown.wait()
        if self.db is None:
            waiting.cancel()


@asynccontextmanager
async def database_server(settings: Settings) -> AsyncIterator[str]:
    """The DSN of the configured database, or of the embedded cluster in the data directory, started here.

    Resource handling: an embedded cluster we started is stopped on exit, even when the shutdown deadline
    has cancelled us.
    """
    if settings.database.url is not None:
        yield settings.database.url
        return
    embedded = EmbeddedPostgres(data_path(settings))
    dsn = await trio.to_thread.run_sync(embedded.start)
    log.info("embedded PostgreSQL %s in %s", "created" if embedded.created else "reused", embedded.root)
    try:
        yield dsn
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(embedded.stop)


def connect(settings: Settings, dsn: str, *, wait: bool = False,
            engine: bool = False) -> AbstractAsyncContextManager[Database]:
    """The Database at ``dsn`` with the configured pool size; with ``wait``, once it is up. An ``engine``
    process's sessions may not sit idle in a transaction for ``lease_ttl`` seconds: one stalled that long (a
    SIGSTOP, a long pause: its leases are expiring too) has its session ended by the server, which releases
    the lease rows its fenced writes locked, so the others can claim them. Not shorter: a live process slowed
    down by a busy machine must not lose its transactions."""
    timings = settings.engine
    return open_database(dsn, min_size=settings.database.pool_min, max_size=settings.database.pool_max, wait=wait,
                         idle_in_transaction=timings.lease_ttl if engine else None)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Database]:
    """The database (``database_server``), for the commands that do not wait for it (migrate, import)."""
    async with database_server(settings) as dsn, connect(settings, dsn) as db:
        yield db
