"""The two servers bench/live.py compares, each run as ``python bench/_live_servers.py ours|bare --ready F``
in a child process (``bench._server.ServerProcess``), which writes its URL to the ready file once it serves.

- ``ours``: one API worker built the way ``songtrack api`` builds it (``songtrack.runtime.serve_api``: settings,
  keys from ``--data-dir``, the database pool, ``songtrack.api.build_api`` (the app with its WebSocket
  routes and its LiveHub) and ``Api.serve``). Log level ``warning`` (one access line per connection at 10k
  clients is not fan-out).
- ``bare``: the baseline, the same stack without our code: a ``QuartTrio`` app served by the same
  ``serve_http`` (hypercorn, trio). ``/ws`` accepts, adds the connection to a set, sends
  ``{"event":"subscribed"}`` and then reads and discards whatever the client sends (no auth, no database, no
  queue). ``POST /broadcast`` takes newline-separated frames and, in the request's own task, runs the
  simplest loop: ``for frame in frames: for ws in connections: await ws.send(frame)``; a send that fails
  drops that connection. The POST answers 204 once the loop is done.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from quart import Response, request, websocket
from quart_trio import QuartTrio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from config import Settings, data_path, load, load_or_create_keys
from engine.logs import configure_logging, current_actor
from engine.store import discover, open_database
from http_api.context import ApiContext
from http_api.server import serve_http
from songtrack.api import build_api
from songtrack.shutdown import SIGNALS, Shutdown, watch_signals

__all__ = ["bare_app", "settings_for"]


def settings_for(data_dir: Path, environ: dict[str, str]) -> Settings:
    """The settings both the server and the parent (which mints the tokens with its keys) use."""
    env = {"SONGTRACK_SANDBOX": "off", "SONGTRACK_LOG_LEVEL": "warning", **environ}
    return load(env, None, {"data_dir": str(data_dir), "server.host": "127.0.0.1", "server.port": 0})


def bare_app() -> QuartTrio:
    app = QuartTrio(__name__)
    connections: set[Any] = set()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        connection: Any = websocket._get_current_object()  # type: ignore[attr-defined]  # the proxied object
        connections.add(connection)
        try:
            await websocket.send('{"event":"subscribed"}')
            while True:
                await websocket.receive()
        finally:
            connections.discard(connection)

    @app.post("/broadcast")
    async def broadcast() -> Response:
        body = await request.get_data()
        frames = (body.decode() if isinstance(body, bytes) else body).split("\n")
        for frame in frames:
            for connection in list(connections):
                try:
                    await connection.send(frame)
                except Exception:  # gone: the simplest loop just drops it
                    connections.discard(connection)
        return Response(b"", status=204)

    return app


async def _serve(kind: str, settings: Settings, ready: Path) -> int:
    shutdown = Shutdown()
    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, signals, shutdown, nursery.cancel_scope, 5.0)
            if kind == "bare":
                await _listen(functools.partial(serve_http, bare_app()), shutdown, ready)
            else:
                dsn = settings.database.url
                if dsn is None:
                    raise SystemExit("bench/_live_servers.py ours needs SONGTRACK_DATABASE_URL")
                keys = load_or_create_keys(data_path(settings))
                async with open_database(dsn, min_size=settings.database.pool_min,
                                         max_size=settings.database.pool_max) as db:
                    api = build_api(ApiContext(lambda: db, discover(), settings, keys))
                    await _listen(api.serve, shutdown, ready)
            nursery.cancel_scope.cancel()
    return 0


async def _listen(serve: Callable[..., Awaitable[None]], shutdown: Shutdown, ready: Path) -> None:
    """``serve``: ``serve_http`` with its app, or ``Api.serve``."""
    async with trio.open_nursery() as http:
        urls: list[str] = await http.start(functools.partial(serve, graceful_timeout=2.0), "127.0.0.1:0",
                                           shutdown.wait)
        partial = trio.Path(ready.with_suffix(".tmp"))
        await partial.write_text(urls[0])
        await partial.rename(ready)  # appears whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("ours", "bare"))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    settings = settings_for(args.data_dir, dict(os.environ))
    configure_logging(settings.log.level, settings.log.format)
    current_actor.set("api")
    sys.exit(trio.run(_serve, args.kind, settings, args.ready))


if __name__ == "__main__":
    main()
