"""The server half of the HTTP benchmarks: one API worker in its own process, built the way ``songtrack api``
builds it (``songtrack.runtime.serve_api``: the same settings, keys, pool, ``build_api`` and ``Api.serve``),
with what a benchmark adds to its app (a baseline route, a timing header), and a ready file written once it
accepts connections."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import trio
from quart_trio import QuartTrio

from config import Settings, data_path, load, load_or_create_keys
from engine.heap import settle_heap
from engine.logs import configure_logging, current_actor
from engine.store import discover, open_database
from http_api.context import ApiContext
from songtrack.api import build_api
from songtrack.shutdown import SIGNALS, Shutdown, watch_signals

__all__ = ["run_worker"]


def run_worker(data_dir: Path, ready: Path, extend: Callable[[QuartTrio], None], fd: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM on the database of ``SONGTRACK_DATABASE_URL``, after ``extend(app)``;
    writes the URL it listens on to ``ready`` once it accepts connections. With ``fd``, on that inherited
    listening socket, shared with other workers as ``songtrack api --workers N`` shares its port."""
    settings = load(dict(os.environ), None, {"data_dir": str(data_dir), "server.host": "127.0.0.1",
                                             "server.port": 0})
    configure_logging(settings.log.level, settings.log.format)
    current_actor.set("api")
    return trio.run(_serve, settings, ready, extend, "127.0.0.1:0" if fd is None else f"fd://{fd}")


async def _serve(settings: Settings, ready: Path, extend: Callable[[QuartTrio], None], bind: str) -> int:
    # songtrack.runtime.serve_api, step for step, except ``extend`` and the ready file.
    shutdown = Shutdown()
    dsn, grace = settings.database.url, settings.engine.shutdown_grace
    if dsn is None:
        raise SystemExit("a benchmark's API worker needs SONGTRACK_DATABASE_URL")
    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, signals, shutdown, nursery.cancel_scope, grace)
            keys = load_or_create_keys(data_path(settings))
            async with open_database(dsn, min_size=settings.database.pool_min,
                                     max_size=settings.database.pool_max) as db:
                api = build_api(ApiContext(lambda: db, discover(), settings, keys))
                extend(api.app)
                settle_heap()
                async with trio.open_nursery() as http:
                    run = functools.partial(api.serve, graceful_timeout=grace)
                    urls: list[str] = await http.start(run, bind, shutdown.wait)
                    partial = trio.Path(ready.with_suffix(".tmp"))
                    await partial.write_text(urls[0])
                    await partial.rename(ready)  # appears whole
            nursery.cancel_scope.cancel()
    return 0
