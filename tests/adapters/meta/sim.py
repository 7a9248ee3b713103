"""The Meta simulator as the tests build it: on a ManualClock they move by hand,
behind an httpx client that talks HTTP to it in-process (safe with autojump)."""

from __future__ import annotations

import httpx

from adapters.meta.simulator import ManualClock, MetaSimulator, SimulatorConfig
from adapters.meta.simulator.clock import parse_start

__all__ = ["TOKEN", "client", "make"]

TOKEN = "SIMULATOR_TOKEN"


def make(**overrides: object) -> tuple[MetaSimulator, ManualClock]:
    """A simulator with ``SimulatorConfig(**overrides)`` and the clock that drives it."""
    config = SimulatorConfig(**overrides)  # type: ignore[arg-type]
    clock = ManualClock(parse_start(config.start))
    return MetaSimulator(config, clock), clock


def client(sim: MetaSimulator, token: str | None = TOKEN) -> httpx.AsyncClient:
    # A Bearer header, not client-level params: httpx would drop the query of the ``next`` URLs we follow.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com",
                             headers=headers)
