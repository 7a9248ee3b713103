"""What every process that serves the API runs beside the app (``songtrack run`` and each ``songtrack api``
worker): the LiveHub and the job runner, under the process's ``api`` supervisor, handed to ``create_app``
as its ``LiveFeed`` and ``Jobs``.

Part of the composition root (``runtime.py``); the tests and benchmarks that serve the app build it here
too, so that they run what the service runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio
from quart_trio import QuartTrio

from actors.jobs import JobRunner
from actors.live_hub import LiveHub
from engine.registry import Registry
from engine.supervisor import ChildSpec, Supervisor
from http_api.app import create_app
from http_api.context import ApiContext
from http_api.server import serve_http

__all__ = ["Api", "ApiServices", "build_api"]


class ApiServices:
    """The app's LiveHub (``live``) and job runner (``jobs``); they run while ``running()`` lasts.

    Their supervisor is the process's own, not the engine's root: they run before the database is
    reachable (the hub waits for it; the API answers 503 until then), and the runner must take the jobs
    of the app's last requests, so they stop only once the app has stopped. Their registry is their own:
    ``GET /v1/engine/status`` shows the engine's actors, as before.
    """

    def __init__(self, ctx: ApiContext) -> None:
        self.live = LiveHub(ctx.database, ctx.settings.live, lambda: ctx.domain_now().timestamp())
        self.jobs = JobRunner()
        # Stopped in reverse order: the hub, whose connections are gone by then, then the running jobs.
        self._supervisor = Supervisor("api", Registry(), children=[
            ChildSpec("jobs", self.jobs.run, stop=self.jobs.stop),
            ChildSpec("live-hub", self.live.run),
        ])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the hub and the job runner for the block; serve the app inside it.

        Leaving the block stops them: the hub at once, the running jobs after ``actors.jobs.GRACE``
        seconds at most (then cancelled; each records how it ended). A block that raises cancels them.
        Raises ``Escalation`` if one of them crashes more often than its restart intensity allows.
        """
        async with trio.open_nursery() as nursery:
            await nursery.start(self._supervisor.run)
            yield
            self._supervisor.stop()


@dataclass(frozen=True)
class Api:
    """The app and the services it was handed."""

    app: QuartTrio
    services: ApiServices

    async def serve(self, bind: str, shutdown_trigger: Callable[[], Awaitable[None]], *,
                    graceful_timeout: float = 10.0,
                    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        """``http_api.server.serve_http`` with the services running: they start before the app serves and
        stop once it has finished its requests, so the jobs of its last requests are taken and get their
        grace. Returns when both have stopped."""
        async with self.services.running():
            await serve_http(self.app, bind, shutdown_trigger, graceful_timeout=graceful_timeout,
                             task_status=task_status)


def build_api(ctx: ApiContext) -> Api:
    """The app with its services (not running yet: see ``ApiServices.running``)."""
    services = ApiServices(ctx)
    return Api(create_app(ctx, live=services.live, jobs=services.jobs), services)
