"""The store's error tree and the one place where driver errors are translated into it.

    StoreError
     ├── StoreUnavailable    connection refused or lost (also while idle in the pool), server shutting
     │                       down, pool or thread closed
     └── DatabaseRefused     the server answered but will not let us in (wrong password, missing database
                             or role): waiting would not help

SQL errors (``asyncpg.PostgresError`` subclasses such as ``UniqueViolationError``) are deliberately *not*
translated: callers need their SQLSTATE, and retrying them would not help.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from engine.store.bridge import BridgeClosed

__all__ = ["DatabaseRefused", "StoreError", "StoreUnavailable", "only_unavailable", "translate_errors"]


class StoreError(Exception):
    """Base class of the errors the store raises itself."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now; the supervisor restarts the caller with a backoff."""


class DatabaseRefused(StoreError):
    """Connecting was refused for good (a configuration error); the message names the server, not the password."""


# asyncpg raises a bare InterfaceError for a closed pool or connection; most other InterfaceErrors are
# bugs in the caller (wrong argument count, concurrent use of one connection) and must stay loud. A pooled
# connection "released back to the pool" while a transaction still holds it is one the server ended:
# asyncpg hands a lost connection back to the pool itself, and we release ours only after the block.
_CLOSED = re.compile(r"\b(?:pool|connection) is clos(?:ed|ing)\b|\bhas been released back to the pool\b")

_UNAVAILABLE = (
    BridgeClosed,  # our asyncio thread is stopped: the Database was closed
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, including ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by an administrator or a fast shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300: a connect that will succeed later
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means "the database is not reachable" rather than "this statement is wrong"."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.InternalClientError):
        # asyncpg's protocol is out of step with the server. Against a healthy server this happens when the
        # server ended an idle connection: its FATAL ErrorResponse (57P01 on shutdown) arrives with no
        # statement to own it, asyncpg parks the protocol in "error consume" (state 2) but reports the
        # connection open until the socket's EOF is read, so the pool can hand it out in between and the
        # next statement is refused ("cannot switch to state 12; another operation (2) is in progress",
        # asyncpg#1069) before anything is sent. The pool's reset then fails and drops the connection.
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return bool(_CLOSED.search(str(exc)))
    # OSError covers refused/reset sockets, a missing socket file, and TimeoutError (asyncio's is the same
    # class since 3.11), which is also what command_timeout raises: a server that does not answer in time
    # looks the same to us as one that is gone, and retrying later is the right reaction to both.
    return isinstance(exc, OSError)


def only_unavailable(exc: BaseException) -> bool:
    """True for ``StoreUnavailable``, and for an exception group whose every error is one (concurrent
    tasks that each lost the database)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(StoreUnavailable)[1] is None
    return isinstance(exc, StoreUnavailable)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise connection-level failures as ``StoreUnavailable`` (``from`` the original); pass the rest."""
    try:
        yield
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
            BridgeClosed) as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc
        raise
