"""Serving the simulator over real HTTP with hypercorn's trio worker.

It owns the listening socket and nothing else; the simulator itself is ``app.SpotifySimulator``.
"""

from __future__ import annotations

from functools import partial
from typing import cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

from adapters.spotify.simulator.app import SpotifySimulator
from adapters.spotify.simulator.config import SimulatorConfig

__all__ = ["serve_spotify_simulator"]


async def serve_spotify_simulator(config: SimulatorConfig | SpotifySimulator, host: str = "127.0.0.1",
                                  port: int = 0, *,
                                  task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Serves a simulator until cancelled; never returns.

    ``config`` is either a ``SimulatorConfig`` (we build the simulator) or a ready ``SpotifySimulator``
    (the caller keeps it, to read its log or ground truth). ``task_status`` reports the bound base URL,
    e.g. ``http://127.0.0.1:54321``, once the socket listens; port 0 picks a free port.
    """
    simulator = config if isinstance(config, SpotifySimulator) else SpotifySimulator(config)
    hyper = Config()
    hyper.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    hyper.accesslog = None
    hyper.errorlog = None
    hyper.graceful_timeout = 1.0
    # Our raw ASGI callable is typed with plain mappings, not hypercorn's TypedDict events.
    app = cast("ASGIFramework", simulator)
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(partial(serve, app, hyper, mode="asgi"))
        task_status.started(urls[0])

