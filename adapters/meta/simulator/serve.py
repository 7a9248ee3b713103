"""Serving a ``MetaSimulator`` over real HTTP with hypercorn's trio worker (the sandbox, benchmarks, e2e tests)."""

from __future__ import annotations

from dataclasses import dataclass

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .app import MetaSimulator
from .clock import Clock
from .config import SimulatorConfig

__all__ = ["ServedSimulator", "serve_meta_simulator"]


@dataclass(frozen=True, slots=True)
class ServedSimulator:
    """What ``serve_meta_simulator`` reports once listening: the base URL and the simulator behind it."""

    url: str
    simulator: MetaSimulator


async def serve_meta_simulator(
    config: SimulatorConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
    task_status: trio.TaskStatus[ServedSimulator] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve a fresh simulator on ``host:port`` until cancelled; never returns otherwise.

    ``task_status`` reports a ``ServedSimulator`` whose ``url`` is the bound address (``port=0`` picks one).
    """
    simulator = MetaSimulator(config, clock)
    hyper = Config()
    hyper.bind = [f"{host}:{port}"]
    hyper.accesslog = None  # the request log is the simulator's own (GET /__simulator/requests)
    hyper.errorlog = None
    hyper.graceful_timeout = 1.0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, simulator, hyper)
        task_status.started(ServedSimulator(str(binds[0]), simulator))
