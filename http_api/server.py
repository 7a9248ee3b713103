"""Serving the app with hypercorn's trio worker, on an address or an inherited socket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

from engine.logs import current_actor
from http_api.early_answers import answer_after_body

__all__ = ["ON_SHUTDOWN", "serve_http"]

# ``app.extensions[ON_SHUTDOWN]``: callables run (without waiting) the moment a graceful stop begins.
ON_SHUTDOWN = "songtrack.on_shutdown"


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
    config.accesslog = None  # the app writes its own, structured (http_api.access_log)
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful_timeout
    config.keep_alive_timeout = 5

    async def trigger() -> None:
        await shutdown_trigger()
        # Long-lived connections (WebSockets) would hold the graceful stop until its deadline; their
        # owners close them with a "reconnect" code as soon as the stop begins.
        for hook in app.extensions.get(ON_SHUTDOWN, ()):
            hook()

    await serve(answer_after_body(app), config, shutdown_trigger=trigger, task_status=task_status)
