"""Fixtures shared by the whole suite.

PostgreSQL is real, never mocked: one throwaway cluster per session (fsync off, Unix socket only), a
template database with every migration applied once, and a fresh copy of that template per test (``db``).
Tests that need their own database build a DSN with ``pg_dsn_factory``; never connect to the template
itself (PostgreSQL refuses to copy a database someone is connected to). Never combine the database with
trio's autojump clock: it would jump ahead while we wait on the asyncio thread.
"""

from __future__ import annotations

import gc
import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trio
from hypothesis import settings

from engine.logs import configure_logging
from engine.store import Database, EmbeddedPostgres, apply_migrations, open_database

TEMPLATE_DATABASE = "songtrack_template"

# No per-example deadline: CI shares two cores with PostgreSQL and whatever else runs, and a slow
# example is not a failing one. Speed is measured by bench/, never by timed assertions.
settings.register_profile("songtrack", deadline=None, print_blob=True)
settings.load_profile("songtrack")


async def _migrate(dsn: str) -> None:
    async with open_database(dsn, max_size=1) as database:
        await apply_migrations(database)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server for the session; its own database is the migrated template."""
    root = Path(tempfile.mkdtemp(prefix="songtrack-test-"))
    root.chmod(0o755)  # as root, the server runs as another account, which must reach its data
    cluster = EmbeddedPostgres(root, database=TEMPLATE_DATABASE, fsync=False)
    try:
        trio.run(_migrate, cluster.start())
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn_factory(pg_cluster: EmbeddedPostgres) -> Callable[[str], str]:
    """``factory(name)``: the DSN of database ``name`` on the session's server (``postgres`` exists)."""
    return pg_cluster.dsn


@pytest.fixture
async def db(pg_dsn_factory: Callable[[str], str]) -> AsyncIterator[Database]:
    """An open Database on a fresh, fully migrated database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex}"
    async with open_database(pg_dsn_factory("postgres"), max_size=1) as admin:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}")
        try:
            async with open_database(pg_dsn_factory(name), max_size=4) as database:
                yield database
        finally:
            with trio.CancelScope(shield=True):
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def property_dsn(pg_dsn_factory: Callable[[str], str]) -> Iterator[str]:
    """A migrated database for a property test whose examples each run in their own ``trio.run``."""
    name = f"t_{uuid.uuid4().hex}"

    async def admin(sql: str) -> None:
        async with open_database(pg_dsn_factory("postgres"), max_size=1) as database:
            await database.execute(sql)

    trio.run(admin, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}")
    try:
        yield pg_dsn_factory(name)
    finally:
        trio.run(admin, f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging onto a buffer (JSON lines); the root logger's handlers and level are put back after."""
    root, pool = logging.getLogger(), logging.getLogger("asyncpg.pool")
    handlers, level, filters = list(root.handlers), root.level, list(pool.filters)
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        pool.filters[:] = filters


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """For a test whose code settles the heap (``engine.heap.settle_heap``): the garbage collector's
    thresholds are put back and the frozen objects made collectable again after it."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
