"""Serving the app with hypercorn's trio worker, on an address or an inherited socket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

from engine.logs import current_actor

__all__ = ["serve_http"]


async def serve_http(
    app: QuartTrio,
    bind: str,
    shutdown_trigger: Callable[[], Awaitable[None]],
    *,
    graceful_timeout: float = 10.0,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown_trigger`` returns, then finish in-flight requests.

    ``bind`` is ``host:port`` or ``fd://N`` (a listening socket inherited from
    the parent process, how ``--workers N`` shares one port). task_status
    reports the URLs actually bound, so port 0 is usable.
    """
    current_actor.set("http")  # hypercorn's connection tasks inherit this context
    config = Config()
    config.bind = [bind]
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful_timeout
    config.keep_alive_timeout = 5
    await serve(app, config, shutdown_trigger=shutdown_trigger, task_status=task_status)
