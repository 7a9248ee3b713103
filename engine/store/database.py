"""The project's only database access layer: an asyncpg pool on a dedicated asyncio thread, awaited from trio.

It owns the pool, transactions, LISTEN/NOTIFY and error translation (``errors.py``); it knows no table, the
queries live with their callers in ``engine/store``. Every asyncpg call runs in the ``AsyncioThread``;
the coroutines marked "asyncio side" below run there, everything else runs in trio.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import asyncpg
import trio

from engine import audit
from engine.backoff import Backoff
from engine.store.bridge import AsyncioThread, open_asyncio_thread
from engine.store.errors import DatabaseRefused, StoreError, StoreUnavailable, translate_errors
from engine.store.notifications import Notification, Subscription
from engine.tracing import in_trace, statement_span

__all__ = ["Connection", "Database", "DatabaseRefused", "Notification", "StoreError", "StoreUnavailable",
           "describe_dsn", "open_database"]

logger = logging.getLogger(__name__)

# Rollback, release and pool shutdown are shielded from cancellation, so they need their own bound.
_CLEANUP_TIMEOUT = 5.0
_APPLICATION_NAME = "songtrack"
# Connecting to a server that is not up yet (``open_database(wait=True)``): retries a quarter of a second
# apart at first, then between 2.5 and 5 s, so a server that comes up is used within 5 s.
_STARTUP_BACKOFF = Backoff(base=0.25, cap=5.0)


class _Outage:
    """Logs each outage once, not once per caller or retry: when a call first finds the database
    unavailable, and when one succeeds again. Callers that retry log their own failures at debug level."""

    def __init__(self) -> None:
        self.since: float | None = None  # trio clock
        self._counted = 0.0  # the outage's time up to here is in songtrack_database_unavailable_seconds

    def began(self, exc: StoreUnavailable) -> None:
        now = trio.current_time()
        if self.since is None:
            self.since = self._counted = now
            logger.warning("the database is unavailable (%s); waiting for it", exc)
        self._count(now)

    def ended(self) -> None:
        if self.since is not None:
            now = trio.current_time()
            self._count(now)
            logger.warning("the database is back after %.1fs", now - self.since)
            self.since = None

    def _count(self, now: float) -> None:
        """Each failed call adds the time since the last, so the counter grows during an outage, not after."""
        # Imported here: the command line imports the store before it points prometheus_client at its
        # directory (songtrack/metrics_dir.py), and prometheus_client picks its storage when first imported.
        from engine.metrics import DATABASE_UNAVAILABLE

        DATABASE_UNAVAILABLE.inc(now - self._counted)
        self._counted = now


class _Queries:
    """The five query methods, run on ``_target()``: the pool, or the one connection of a transaction."""

    def __init__(self, bridge: AsyncioThread, outage: _Outage) -> None:
        self._bridge = bridge
        self._outage = outage

    def _target(self) -> Any:  # asyncpg is untyped: a Pool or a pooled Connection proxy
        raise NotImplementedError

    async def _call(self, fn: Any, *args: object) -> Any:
        try:
            with translate_errors():
                result = await self._bridge.call(fn, *args)
        except StoreUnavailable as exc:
            self._outage.began(exc)
            raise
        self._outage.ended()
        return result

    async def _statement(self, fn: Any, sql: str, *args: object) -> Any:
        # The span is made here, on the trio side: the asyncio thread never needs the trace's context.
        with statement_span(sql):
            return await self._call(fn, sql, *args)

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """All rows of ``sql`` (``$1``-style placeholders)."""
        rows: list[asyncpg.Record] = await self._statement(self._target().fetch, sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: object) -> asyncpg.Record | None:
        """The first row, or ``None`` when there is none."""
        return await self._statement(self._target().fetchrow, sql, *args)

    async def fetchval(self, sql: str, *args: object) -> object:
        """The first column of the first row, or ``None``."""
        value: object = await self._statement(self._target().fetchval, sql, *args)
        return value

    async def execute(self, sql: str, *args: object) -> str:
        """Run ``sql`` and return its status tag (``"INSERT 0 1"``). Without args, ``sql`` may hold several
        statements (the simple query protocol)."""
        status: str = await self._statement(self._target().execute, sql, *args)
        return status

    async def executemany(self, sql: str, args: Iterable[Sequence[object]]) -> None:
        """Run ``sql`` once per argument tuple, as one pipelined batch (atomic: asyncpg wraps it)."""
        await self._statement(self._target().executemany, sql, list(args))


class Connection(_Queries):
    """One pooled connection inside ``Database.transaction()``; usable only until that block exits."""

    def __init__(self, bridge: AsyncioThread, outage: _Outage, conn: Any) -> None:
        super().__init__(bridge, outage)
        self._conn = conn
        self._ended = False

    def _target(self) -> Any:
        if self._ended:
            raise StoreError("the transaction has ended; this Connection cannot be used any more")
        return self._conn


class Database(_Queries):
    """A pool of connections to one database. Build it with ``open_database``; it is safe to share between
    any number of trio tasks. Each query method checks out a connection for that one statement."""

    def __init__(self, bridge: AsyncioThread, pool: Any, dsn: str) -> None:
        super().__init__(bridge, _Outage())
        self._pool = pool
        self._dsn = dsn

    def _target(self) -> Any:
        return self._pool

    @property
    def dsn(self) -> str:
        """The DSN this pool connects to (it may hold a password: never log it, see ``describe_dsn``)."""
        return self._dsn

    async def _statement(self, fn: Any, sql: str, *args: object) -> Any:
        # While someone is acting (engine/audit.py) a lone statement runs in a transaction of its own that
        # names them, so the audit triggers see who; engine traffic keeps its single round trip.
        setting = audit.current_setting()
        if setting is None:
            return await super()._statement(fn, sql, *args)
        with statement_span(sql):  # ``fn`` is the pool's method: the transaction's connection runs its namesake
            return await self._call(_audited, self._pool, setting, fn.__name__, sql, *args)

    def pool_connections(self) -> tuple[int, int, int]:
        """The pool's connections now: (open, idle, most allowed). Read from the trio thread without the
        bridge: three integer reads of the pool's lists, at worst a moment out of date, never torn."""
        return self._pool.get_size(), self._pool.get_idle_size(), self._pool.get_max_size()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection with an open transaction: committed when the block exits normally (even if a cancel
        arrives as it does), rolled back when it raises or is cancelled. A failed COMMIT raises (the
        transaction is then rolled back).

        Resource handling: the connection goes back to the pool on every exit path; rollback and release
        are shielded from cancellation and bounded by a few seconds (past that the connection is dropped).
        """
        with in_trace("transaction", {"db.system.name": "postgresql"}):
            async with self._transaction() as connection:
                yield connection

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        conn, tx = await self._call(_begin, self._pool, audit.current_setting())
        connection = Connection(self._bridge, self._outage, conn)
        try:
            yield connection
        except BaseException:
            connection._ended = True
            await self._rollback(conn, tx)
            raise
        connection._ended = True
        # Shielded: the block has done its work, so a cancel arriving now (a shutdown, a client gone) does
        # not leave its outcome to a race with the COMMIT; it takes effect at the caller's next checkpoint.
        # The pool's command_timeout still bounds a COMMIT to a server that stopped answering.
        with trio.CancelScope(shield=True):
            await self._call(_end, self._pool, conn, tx, True)

    async def _rollback(self, conn: Any, tx: Any) -> None:
        with trio.move_on_after(_CLEANUP_TIMEOUT) as scope:
            scope.shield = True
            try:
                await self._call(_end, self._pool, conn, tx, False)
            except (StoreError, asyncpg.PostgresError):
                # The body's exception (maybe trio.Cancelled) matters more; _end dropped the connection.
                logger.warning("rollback failed; the connection was dropped", exc_info=True)

    @asynccontextmanager
    async def listen(self, channel: str, *, buffer: int = 64) -> AsyncIterator[Subscription]:
        """LISTEN on ``channel`` and yield the ``Subscription`` its notifications arrive on, in order.

        It uses a dedicated connection, not a pooled one: a LISTEN must outlive any single statement, and
        a transaction-mode pooler (pgbouncer) in front of the pool would silently break it. The connection
        is closed on exit. Raises ``StoreUnavailable`` if it cannot connect; see ``Subscription`` for what
        happens when the buffer is full or the connection is lost.
        """
        subscription = Subscription(channel, buffer)
        token = trio.lowlevel.current_trio_token()
        on_notify, on_terminate = subscription.on_notify(token), subscription.on_terminate(token)
        conn = await self._call(_connect_listener, self._dsn, channel, on_notify, on_terminate)
        try:
            yield subscription
        finally:
            subscription._closing = True  # our own close below must not look like a lost connection
            with trio.move_on_after(_CLEANUP_TIMEOUT) as scope:
                scope.shield = True
                try:
                    await self._bridge.call(_close_connection, conn)
                finally:
                    await subscription.aclose()

    async def wake_on_notify(self, channel: str, wake: Callable[[], object], *, retry: float) -> NoReturn:
        """Call ``wake`` once subscribed to ``channel`` and at each notification on it, forever: for an
        actor that re-reads the database when woken. Notifications sent while we were not listening are
        lost, hence the call at each (re)subscription. A lost LISTEN is logged and retried every ``retry``
        seconds (the caller's own poll covers the gap)."""
        while True:
            try:
                async with self.listen(channel) as subscription:
                    wake()
                    async for _ in subscription:
                        wake()
            except StoreUnavailable as exc:  # an outage is logged once, by _Outage
                logger.debug("LISTEN %s lost (%s); retrying every %ss (polling meanwhile)", channel, exc, retry)
            await trio.sleep(retry)

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY ``channel`` with ``payload`` (at most 8000 bytes); delivered when our statement commits."""
        await self.execute("SELECT pg_notify($1, $2)", channel, payload)


@asynccontextmanager
async def open_database(
    dsn: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float | None = 60, wait: bool = False,
    idle_in_transaction: float | None = None,
) -> AsyncIterator[Database]:
    """Connect a pool of ``min_size``..``max_size`` connections to ``dsn`` and yield a ``Database``.

    With ``idle_in_transaction`` (seconds) the server ends any session of ours that sits in a transaction
    without a statement for that long (``idle_in_transaction_session_timeout``): a process stalled mid-
    transaction (a long pause, SIGSTOP) then cannot keep holding its row locks, such as the lease rows a
    fenced write locks, which other engine processes would otherwise skip when they claim.

    With ``wait`` a server that cannot be reached yet is waited for (logged once, retried with backoff and
    jitter) until it is up or the caller is cancelled.

    Resource handling: owns its ``AsyncioThread``; on exit it closes the pool gracefully (terminating it if
    connections are still busy after a few seconds), then stops the thread. Error handling: raises
    ``StoreUnavailable`` when the server cannot be reached (without ``wait``), ``DatabaseRefused`` when it
    answers but refuses us (a bad password, a missing database or role).
    """
    async with open_asyncio_thread() as bridge:
        pool = await _connect(bridge, dsn, (min_size, max_size, command_timeout, idle_in_transaction), wait)
        try:
            yield Database(bridge, pool, dsn)
        finally:
            with trio.move_on_after(_CLEANUP_TIMEOUT + 1) as scope:
                scope.shield = True
                await bridge.call(_close_pool, pool, _CLEANUP_TIMEOUT)


async def _connect(bridge: AsyncioThread, dsn: str, sizes: tuple[int, int, float | None, float | None],
                   wait: bool) -> Any:
    began, attempt = trio.current_time(), 0
    while True:
        try:
            with translate_errors():
                pool = await bridge.call(_create_pool, dsn, *sizes)
            break
        except StoreUnavailable as exc:
            if not wait:
                raise StoreUnavailable(f"the database at {describe_dsn(dsn)} is unavailable: {exc}") from (
                    exc.__cause__ or exc)  # the OS error, as for every other StoreUnavailable
            attempt += 1
            if attempt == 1:
                logger.warning("waiting for the database at %s (%s)", describe_dsn(dsn), exc)
            await trio.sleep(_STARTUP_BACKOFF.delay(attempt, random.random()))
        except asyncpg.PostgresError as exc:  # unavailable ones were translated above: this is for good
            raise DatabaseRefused(f"the database at {describe_dsn(dsn)} refused the connection: {exc}") from None
    if attempt:
        logger.warning("the database at %s is up after %.1fs", describe_dsn(dsn), trio.current_time() - began)
    return pool


def describe_dsn(dsn: str) -> str:
    """``host:port/database`` of a DSN, for messages: never its user or password."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    port = parts.port if parts.port is not None else query.get("port", ["5432"])[0]
    return f"{host}:{port}{parts.path or '/'}"


# --- asyncio side -------------------------------------------------------------------------------------


async def _create_pool(dsn: str, min_size: int, max_size: int, command_timeout: float | None,
                       idle_in_transaction: float | None) -> Any:
    settings = {"application_name": _APPLICATION_NAME}
    if idle_in_transaction is not None:
        settings["idle_in_transaction_session_timeout"] = f"{max(1, round(idle_in_transaction * 1000))}ms"
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        server_settings=settings,
        reset=_keep_session,
    )


async def _keep_session(conn: Any) -> None:
    """What a connection needs when it goes back to the pool: nothing beyond asyncpg's own rollback of an
    open transaction. asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL) costs a
    round trip per statement, and our pooled connections never change their session: settings are SET
    LOCAL, advisory locks are transaction-scoped, cursors live in transactions and LISTEN has its own
    connection (``Database.listen``)."""


async def _close_pool(pool: Any, grace: float) -> None:
    try:
        await asyncio.wait_for(pool.close(), grace)
    except BaseException:  # timed out or cancelled: do not leave sockets behind
        pool.terminate()
        raise


async def _begin(pool: Any, acting: str | None) -> tuple[Any, Any]:
    conn = await pool.acquire()
    try:
        tx = conn.transaction()
        await tx.start()
        if acting is not None:
            await conn.execute(_set_acting(acting))
    except BaseException:
        await pool.release(conn)
        raise
    return conn, tx


async def _audited(pool: Any, acting: str, method: str, *args: object) -> Any:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_set_acting(acting))
        return await getattr(conn, method)(*args)


def _set_acting(acting: str) -> str:
    """The statement that hands the audit triggers (migration 0017) who acts, until the transaction ends. A SET,
    not ``SELECT set_config(...)``: a SET takes no snapshot, so the transaction may still choose its isolation
    (``SET TRANSACTION``). It takes no parameter, so the JSON is quoted here, as an escape string whatever the
    server's standard_conforming_strings."""
    return "SET LOCAL songtrack.audit = E'" + acting.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def _end(pool: Any, conn: Any, tx: Any, commit: bool) -> None:
    try:
        await (tx.commit() if commit else tx.rollback())
    except BaseException:
        if not commit:  # we could not roll back, so we cannot know the connection's state: drop it
            conn.terminate()
        raise
    finally:
        await pool.release(conn)


async def _connect_listener(dsn: str, channel: str, on_notify: object, on_terminate: object) -> Any:
    conn = await asyncpg.connect(dsn, server_settings={"application_name": f"{_APPLICATION_NAME}-listen"})
    try:
        await conn.add_listener(channel, on_notify)
        conn.add_termination_listener(on_terminate)
    except BaseException:
        conn.terminate()
        raise
    return conn


async def _close_connection(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), _CLEANUP_TIMEOUT)
    except Exception:  # already lost, or timed out: terminating is all that is left to do
        logger.debug("closing the LISTEN connection failed; terminating it", exc_info=True)
        conn.terminate()
    except BaseException:
        conn.terminate()
        raise
