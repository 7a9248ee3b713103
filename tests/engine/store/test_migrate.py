"""Migrations: discovery rules, idempotence, atomic failure, edited files, concurrent runners.

Rules: ``blank`` is a fresh empty database (no schema_migrations) per test; migration files for the
failure cases are written to ``tmp_path``; real time only, with a ``fail_after`` deadline.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trio

from engine.store import (
    MIGRATIONS_DIR,
    Database,
    MigrationError,
    apply_migrations,
    discover,
    open_database,
    pending_migrations,
)


@pytest.fixture
async def blank(pg_dsn_factory: Callable[[str], str]) -> AsyncIterator[str]:
    """The DSN of a fresh database without any migration applied."""
    name = f"b_{uuid.uuid4().hex}"
    async with open_database(pg_dsn_factory("postgres"), max_size=1) as admin:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield pg_dsn_factory(name)
        finally:
            with trio.CancelScope(shield=True):
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def _table_exists(db: Database, name: str) -> bool:
    return await db.fetchval("SELECT to_regclass($1) IS NOT NULL", name) is True


def test_discover_reads_the_shipped_migrations() -> None:
    [first, *_] = discover()
    assert (first.version, first.name) == (1, "engine")
    assert first.checksum == hashlib.sha256((MIGRATIONS_DIR / "0001_engine.sql").read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "abcd_x.sql"])
def test_discover_rejects_bad_names(tmp_path: Path, name: str) -> None:
    _write(tmp_path, {name: "SELECT 1;"})
    with pytest.raises(MigrationError, match=re.escape(name)):
        discover(tmp_path)


def test_discover_rejects_duplicate_versions(tmp_path: Path) -> None:
    _write(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;", "README.md": "ignored"})
    with pytest.raises(MigrationError, match=r"0001_a\.sql"):
        discover(tmp_path)


async def test_shipped_migrations_apply_once(blank: str) -> None:
    with trio.fail_after(10):
        async with open_database(blank, max_size=2) as db:
            shipped = [m.version for m in discover()]
            assert shipped[0] == 1
            assert await pending_migrations(db) == shipped  # no schema_migrations table yet
            assert await apply_migrations(db) == shipped
            assert await apply_migrations(db) == []
            assert await pending_migrations(db) == []
            assert await _table_exists(db, "engine_actors")


async def test_the_test_template_is_migrated(db: Database) -> None:
    with trio.fail_after(10):
        assert await pending_migrations(db) == []
        assert await apply_migrations(db) == []


async def test_a_failing_migration_leaves_nothing_half_applied(blank: str, tmp_path: Path) -> None:
    migrations = discover(_write(tmp_path, {
        "0001_good.sql": "CREATE TABLE good (id int);",
        "0002_bad.sql": "CREATE TABLE half (id int);\nSELECT 1 / 0;",
    }))  # fmt: skip
    with trio.fail_after(10):
        async with open_database(blank, max_size=2) as db:
            with pytest.raises(MigrationError, match=r"0002_bad\.sql.*division by zero"):
                await apply_migrations(db, migrations)
            assert await _table_exists(db, "good")
            assert not await _table_exists(db, "half")
            assert await db.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
            assert await pending_migrations(db, migrations) == [2]


async def test_an_edited_applied_migration_is_refused(blank: str, tmp_path: Path) -> None:
    _write(tmp_path, {"0001_songs.sql": "CREATE TABLE songs (id int);"})
    with trio.fail_after(10):
        async with open_database(blank, max_size=2) as db:
            assert await apply_migrations(db, discover(tmp_path)) == [1]
            _write(tmp_path, {"0001_songs.sql": "CREATE TABLE songs (id bigint);", "0002_x.sql": "SELECT 1;"})
            with pytest.raises(MigrationError, match=r"0001_songs\.sql.*must not be edited"):
                await apply_migrations(db, discover(tmp_path))
            assert await pending_migrations(db, discover(tmp_path)) == [2]  # nothing new was applied


async def test_concurrent_runners_apply_each_migration_once(blank: str, tmp_path: Path) -> None:
    migrations = discover(_write(tmp_path, {
        "0001_a.sql": "CREATE TABLE a (id int); SELECT pg_sleep(0.2);",
        "0002_b.sql": "CREATE TABLE b (id int); SELECT pg_sleep(0.2);",
    }))  # fmt: skip
    applied: list[int] = []

    async def runner() -> None:
        async with open_database(blank, max_size=1) as db:
            applied.extend(await apply_migrations(db, migrations))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner)
            nursery.start_soon(runner)
        async with open_database(blank, max_size=1) as db:
            assert await db.fetchval("SELECT count(*) FROM schema_migrations") == 2
    assert sorted(applied) == [1, 2]
