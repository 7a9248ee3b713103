"""A Unix-socket proxy in front of a PostgreSQL server that passes every byte on at once but a server's
close of a connection only after ``close_delay`` seconds.

It stretches the moment between a server's goodbye (its FATAL ErrorResponse, e.g. on shutdown or
``pg_terminate_backend``) and the end of the socket, which on a real server lasts from microseconds to a
few milliseconds on a busy machine, so that a test can act inside it deterministically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import trio

__all__ = ["open_slow_close_proxy"]


@asynccontextmanager
async def open_slow_close_proxy(dsn: str, close_delay: float) -> AsyncIterator[str]:
    """Serve the proxy until the block exits; yields a DSN like ``dsn`` that connects through it.
    ``dsn`` must name its server by a socket directory (``?host=/dir&port=N``), as EmbeddedPostgres does."""
    parts = urlsplit(dsn)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    socket_name = f".s.PGSQL.{query.get('port', '5432')}"
    upstream = os.path.join(query["host"], socket_name)
    with tempfile.TemporaryDirectory(prefix="pg-proxy-") as directory:
        sock = trio.socket.socket(trio.socket.AF_UNIX)
        await sock.bind(os.path.join(directory, socket_name))
        sock.listen()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, _Handler(upstream, close_delay), [trio.SocketListener(sock)])
            yield urlunsplit(parts._replace(query=urlencode(query | {"host": directory})))
            nursery.cancel_scope.cancel()


class _Handler:
    def __init__(self, upstream: str, close_delay: float) -> None:
        self._upstream, self._close_delay = upstream, close_delay

    async def __call__(self, client: trio.SocketStream) -> None:
        async with client, await trio.open_unix_socket(self._upstream) as server, trio.open_nursery() as nursery:
            nursery.start_soon(_pump, client, server, 0.0)
            nursery.start_soon(_pump, server, client, self._close_delay)


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, close_delay: float) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the other direction closed the pair first
    await trio.sleep(close_delay)
    await sink.aclose()
