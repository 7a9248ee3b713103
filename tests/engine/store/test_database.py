"""``Database`` against a real PostgreSQL: queries, transactions, cancellation, LISTEN/NOTIFY, errors.

Rules: each test gets a fresh migrated database from the ``db`` fixture; real time only (no autojump
clock); every test that waits on the server has a ``fail_after`` deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg
import pytest
import trio
from prometheus_client import REGISTRY

import engine.store
from engine.store import Database, Notification, StoreError, StoreUnavailable, open_database
from tests.helpers.pg_proxy import open_slow_close_proxy


async def test_public_api_is_pinned() -> None:
    assert set(engine.store.__all__) == {
        "MIGRATIONS_DIR", "AsyncioThread", "BridgeClosed", "Connection", "Database", "DatabaseRefused",
        "EmbeddedPostgres", "EmbeddedPostgresError", "Migration", "MigrationError", "Notification", "PostgresNotFound",
        "StoreError", "StoreUnavailable", "Subscription", "apply_migrations", "discover", "find_binaries",
        "open_asyncio_thread", "open_database", "pending_migrations",
    }  # fmt: skip


async def test_the_five_query_methods(db: Database) -> None:
    with trio.fail_after(10):
        assert await db.execute("CREATE TABLE songs (id int PRIMARY KEY, title text)") == "CREATE TABLE"
        await db.executemany("INSERT INTO songs VALUES ($1, $2)", [(1, "a"), (2, "b")])
        assert await db.execute("INSERT INTO songs VALUES ($1, $2)", 3, "c") == "INSERT 0 1"
        rows = await db.fetch("SELECT id, title FROM songs ORDER BY id")
        assert [(r["id"], r["title"]) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
        row = await db.fetchrow("SELECT title FROM songs WHERE id = $1", 2)
        assert row is not None and row["title"] == "b"
        assert await db.fetchrow("SELECT title FROM songs WHERE id = $1", 99) is None
        assert await db.fetchval("SELECT count(*) FROM songs") == 3


async def test_sql_errors_keep_their_sqlstate(db: Database) -> None:
    with trio.fail_after(10):
        await db.execute("CREATE TABLE u (id int PRIMARY KEY)")
        await db.execute("INSERT INTO u VALUES (1)")
        with pytest.raises(asyncpg.UniqueViolationError) as info:
            await db.execute("INSERT INTO u VALUES (1)")
        assert info.value.sqlstate == "23505"


async def test_transaction_commits_on_normal_exit(db: Database) -> None:
    with trio.fail_after(10):
        await db.execute("CREATE TABLE t (v int)")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            await conn.executemany("INSERT INTO t VALUES ($1)", [(2,), (3,)])
            assert await conn.fetchval("SELECT count(*) FROM t") == 3
            assert await db.fetchval("SELECT count(*) FROM t") == 0  # not visible outside yet
        assert await db.fetchval("SELECT count(*) FROM t") == 3
        with pytest.raises(StoreError, match="transaction has ended"):
            await conn.fetchval("SELECT 1")


async def test_a_failed_commit_raises(db: Database) -> None:
    with trio.fail_after(10):
        await db.execute("CREATE TABLE d (v int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(asyncpg.UniqueViolationError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO d VALUES (1), (1)")  # checked only at COMMIT
        assert await db.fetchval("SELECT count(*) FROM d") == 0
        assert await db.fetchval("SELECT 1") == 1


async def test_transaction_rolls_back_on_exception(db: Database) -> None:
    with trio.fail_after(10):
        await db.execute("CREATE TABLE t (v int)")
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")
                raise RuntimeError
        assert await db.fetchval("SELECT count(*) FROM t") == 0


async def test_transaction_rolls_back_on_cancellation(db: Database) -> None:
    with trio.fail_after(10):
        await db.execute("CREATE TABLE t (v int)")
        with trio.move_on_after(0.2) as scope:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")
                await conn.fetchval("SELECT pg_sleep(5)")
        assert scope.cancelled_caught
        assert await db.fetchval("SELECT count(*) FROM t") == 0


async def test_a_block_cancelled_as_it_ends_still_commits_and_returns_its_connection(
    pg_dsn_factory: Callable[[str], str],
) -> None:
    # The cancel comes with no checkpoint left in the block, so the COMMIT is its first: the call is
    # cancelled in the same turn of the asyncio loop that would start it. The connection came back
    # mid-transaction before (found at shutdown: the pool's close waited for it).
    with trio.fail_after(10):
        async with open_database(pg_dsn_factory("postgres"), max_size=1) as database:
            await database.execute("CREATE TABLE ended (v int)")
            for value in range(5):
                with trio.CancelScope() as scope:
                    async with database.transaction() as conn:
                        await conn.execute("INSERT INTO ended VALUES ($1)", value)
                        scope.cancel()
                # One connection: this waits forever if the last one never came back.
                assert await database.fetchval("SELECT count(*) FROM ended") == value + 1
            await database.execute("DROP TABLE ended")


async def test_cancelling_a_long_query_stops_it_on_the_server(db: Database) -> None:
    with trio.fail_after(10):
        start = time.monotonic()
        with trio.move_on_after(0.2):
            await db.fetchval("SELECT pg_sleep(5)")
        assert time.monotonic() - start < 1.5
        assert await db.fetchval("SELECT 1") == 1
        sleeping = (
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'"
        )
        assert await db.fetchval(sleeping) == 0


async def test_pool_serves_many_tasks(db: Database) -> None:
    total = 0

    async def worker(n: int) -> None:
        nonlocal total
        for i in range(20):
            value = await db.fetchval("SELECT $1::int + $2::int", n, i)
            assert isinstance(value, int)
            total += value

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for n in range(16):
                nursery.start_soon(worker, n)
    assert total == sum(n + i for n in range(16) for i in range(20))


async def test_notifications_arrive_in_order(db: Database) -> None:
    with trio.fail_after(10):
        async with db.listen("songs") as inbox:
            for i in range(20):
                await db.notify("songs", str(i))
            received = [await inbox.receive() for _ in range(20)]
    assert received == [Notification("songs", str(i)) for i in range(20)]


async def test_notify_inside_a_transaction_arrives_after_commit(db: Database) -> None:
    with trio.fail_after(10):
        async with db.listen("events") as inbox:
            async with db.transaction() as conn:
                await conn.execute("SELECT pg_notify('events', 'x')")
                with trio.move_on_after(0.2):
                    await inbox.receive()
                    pytest.fail("delivered before COMMIT")
            assert await inbox.receive() == Notification("events", "x")


async def test_a_full_buffer_drops_and_counts(db: Database) -> None:
    with trio.fail_after(10):
        async with db.listen("burst", buffer=2) as inbox:
            for i in range(5):
                await db.notify("burst", str(i))
            # ``dropped`` is a bare counter with no event to wait on; polling is fine in a test.
            while inbox.dropped < 3:  # noqa: ASYNC110
                await trio.sleep(0.01)
            assert [(await inbox.receive()).payload for _ in range(2)] == ["0", "1"]


async def test_a_lost_listen_connection_raises_store_unavailable(db: Database) -> None:
    with trio.fail_after(10):
        async with db.listen("songs") as inbox:
            terminated = await db.fetchval(
                "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'songtrack-listen' AND datname = current_database()"
            )
            assert terminated is True
            with pytest.raises(StoreUnavailable):
                await inbox.receive()


async def test_a_terminated_pooled_connection_is_unavailable_then_replaced(db: Database) -> None:
    with trio.fail_after(10):
        with pytest.raises(StoreUnavailable) as info:
            await db.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
        assert info.value.__cause__ is not None
        assert await db.fetchval("SELECT 1") == 1


async def test_a_connection_the_server_ended_while_idle_is_unavailable_then_replaced(
    pg_dsn_factory: Callable[[str], str],
) -> None:
    # The server's FATAL reaches the idle pooled connection at once, the socket's end a second later; in
    # between asyncpg still reports the connection open and the pool hands it out (asyncpg#1069). During a
    # PostgreSQL stop this made the request in flight a 500 (InternalClientError), not a 503.
    dsn = pg_dsn_factory("postgres")
    with trio.fail_after(10):
        async with (open_slow_close_proxy(dsn, close_delay=1.0) as proxied,
                    open_database(dsn, max_size=1) as admin, open_database(proxied, max_size=1) as database):
            pid = await database.fetchval("SELECT pg_backend_pid()")
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
            await trio.sleep(0.3)  # the FATAL has arrived; the proxy still holds the close back
            with pytest.raises(StoreUnavailable):
                await database.fetchval("SELECT 1")
            assert await database.fetchval("SELECT 1") == 1


async def test_an_outage_is_logged_once_however_many_calls_fail(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                await db.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
        assert await db.fetchval("SELECT 1") == 1
    said = [r.getMessage() for r in caplog.records if r.name == "engine.store.database"]
    assert [message.split(" (")[0].split(" after")[0] for message in said] == [
        "the database is unavailable", "the database is back"]


def _unavailable_seconds() -> float:
    return REGISTRY.get_sample_value("songtrack_database_unavailable_seconds_total") or 0.0


async def test_an_outage_counts_its_seconds_while_it_lasts(db: Database) -> None:
    before, start = _unavailable_seconds(), trio.current_time()
    with trio.fail_after(10):
        with pytest.raises(StoreUnavailable):
            await db.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
        await trio.sleep(0.3)
        with pytest.raises(StoreUnavailable):
            await db.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
        assert _unavailable_seconds() - before >= 0.3  # counted by the failing call, before the outage ends
        assert await db.fetchval("SELECT 1") == 1
        assert 0.3 <= _unavailable_seconds() - before <= trio.current_time() - start


async def test_a_transaction_whose_connection_the_server_ended_raises_store_unavailable(db: Database) -> None:
    # The ROLLBACK then fails on a connection asyncpg has already handed back to the pool; dropping it
    # must not replace the real error (it raised "connection has been released back to the pool").
    with trio.fail_after(10):
        with pytest.raises(StoreUnavailable):
            async with db.transaction() as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
                assert await db.fetchval("SELECT pg_terminate_backend($1)", pid) is True
                await conn.fetchval("SELECT pg_sleep(5)")
        assert await db.fetchval("SELECT 1") == 1


async def test_a_cancelled_statement_leaves_its_connection_ready_for_the_next(
    pg_dsn_factory: Callable[[str], str],
) -> None:
    # One connection, so the statement after the cancel runs on the very connection that was mid-query:
    # the bridge hands the cancel back only once asyncpg has finished with it.
    with trio.fail_after(10):
        async with open_database(pg_dsn_factory("postgres"), max_size=1) as database:
            pid = await database.fetchval("SELECT pg_backend_pid()")
            for _ in range(3):
                with trio.move_on_after(0.1):
                    async with database.transaction() as conn:
                        await conn.fetchval("SELECT pg_sleep(5)")
                assert await database.fetchval("SELECT pg_backend_pid()") == pid


@pytest.mark.parametrize(
    "dsn", ["postgresql://postgres@/x?host=/nonexistent-socket-dir", "postgresql://postgres@127.0.0.1:1/x"]
)
async def test_an_unreachable_server_raises_store_unavailable(dsn: str) -> None:
    with trio.fail_after(10), pytest.raises(StoreUnavailable) as info:
        async with open_database(dsn):
            pass
    assert isinstance(info.value.__cause__, OSError)


async def test_a_closed_database_raises_store_unavailable(pg_dsn_factory: Callable[[str], str]) -> None:
    with trio.fail_after(10):
        async with open_database(pg_dsn_factory("postgres"), max_size=1) as database:
            assert await database.fetchval("SELECT 1") == 1
        with pytest.raises(StoreUnavailable):
            await database.fetchval("SELECT 1")


async def test_a_transaction_left_idle_too_long_is_ended_by_the_server(
        pg_dsn_factory: Callable[[str], str]) -> None:
    """What an engine process stalled mid-transaction meets on waking: the server ended its session (and
    released its locks), so the transaction's next statement fails as an unavailable database would."""
    with trio.fail_after(20):
        async with open_database(pg_dsn_factory("postgres"), max_size=1, idle_in_transaction=0.2) as db:
            with pytest.raises(StoreUnavailable):
                async with db.transaction() as tx:
                    await tx.execute("SELECT 1")
                    time.sleep(0.5)  # noqa: ASYNC251 -- a stall: nothing of ours runs, as under SIGSTOP
                    await tx.execute("SELECT 1")
            assert await db.fetchval("SELECT 1") == 1  # a new session
