"""How account actors get their HTTP client: ``HttpFactory()`` is entered with ``async with`` for as long
as an actor runs. ``httpx.AsyncClient`` itself is one (a client per actor, for tests); the engine passes
``lend(client)``, so every actor shares one connection pool instead of holding ~1 MB and its own
connections each (bench/pipeline.py measured a client at ~0.8 MB and ~40 ms to build). Every call it
makes names the product, its version and the engine process (``user_agent``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version

import httpx

__all__ = ["HttpFactory", "lend", "user_agent"]

HttpFactory = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


def lend(client: httpx.AsyncClient) -> HttpFactory:
    """A factory that hands out ``client`` without closing it; its owner closes it after the actors stop."""

    @asynccontextmanager
    async def borrow() -> AsyncIterator[httpx.AsyncClient]:
        yield client

    return borrow


def user_agent(node_id: uuid.UUID) -> str:
    """The ``User-Agent`` of the account actors' calls from engine process ``node_id``: a provider's support
    (or the simulator's caller log) can tell which of several engine processes made a call."""
    return f"SongTrackPro/{version('songtrackpro')} (engine {node_id})"
