"""How account actors get their HTTP client: ``HttpFactory()`` is entered with ``async with`` for as long
as an actor runs. ``httpx.AsyncClient`` itself is one (a client per actor, for tests); the engine passes
``lend(shared_client())``, so every actor shares one connection pool instead of holding ~1 MB and its own
connections each (bench/pipeline.py measured a client at ~0.8 MB and ~40 ms to build).

The shared client lets at most as many requests in as it has connections (``LimitedTransport``); the others
wait in a trio ``CapacityLimiter``, not in httpcore's pool. Thousands of actors on one pool otherwise queue
there, where a request cancelled while it waits can leak its connection slot for good (encode/httpcore#1093:
once every slot leaked, each request fails with ``PoolTimeout`` until the process restarts; our actors are
cancelled together on a lost lease or a stop), and where each request's arrival and end rescans the whole
queue (a third of an engine's CPU with 3,000 Meta actors, bench/pipeline.py's real rows). Its connections are
split over several small httpcore pools (``_PER_POOL`` each), a request going to the least busy: a pool's
arrival and end of a request also scan its connections, once per idle connection (httpcore 1.0's
``_assign_requests_to_connections``), a cost that grows as the square of a pool's size: one pool of 100 took
a quarter of an engine's CPU with 5,000 Meta actors. Every call it makes names the product, its version and
the engine process (``user_agent``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version

import httpx
import trio

__all__ = ["HttpFactory", "LimitedTransport", "lend", "shared_client", "user_agent"]

_CONNECTIONS = 100  # httpx's default pool size
_PER_POOL = 10  # connections of each httpcore pool: the pool's bookkeeping grows as the square of this

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


def shared_client(*, user_agent: str | None = None, timeout: float = 30.0,
                  connections: int = _CONNECTIONS) -> httpx.AsyncClient:
    """The account actors' one client: ``connections`` pooled connections (in pools of ``_PER_POOL``), as
    many requests in flight."""
    per_pool = min(connections, _PER_POOL)
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    headers = {"User-Agent": user_agent} if user_agent is not None else None
    pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(-(-connections // per_pool))]
    return httpx.AsyncClient(timeout=timeout, headers=headers, transport=LimitedTransport(pools, per_pool))


class LimitedTransport(httpx.AsyncBaseTransport):
    """Requests spread over ``transports``, at most ``limit`` in flight on each, each counted until its
    response is closed; a request goes to the transport with the fewest in flight."""

    def __init__(self, transports: Sequence[httpx.AsyncBaseTransport], limit: int) -> None:
        self._transports = list(transports)
        self._in_flight = [0] * len(self._transports)
        self._limiter = trio.CapacityLimiter(limit * len(self._transports))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        borrower = object()  # the response may be closed by another task than ours
        await self._limiter.acquire_on_behalf_of(borrower)
        # Below its limit: the limiter lets in no more than all of them together take.
        index = min(range(len(self._transports)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1

        def release() -> None:
            self._in_flight[index] -= 1
            self._limiter.release_on_behalf_of(borrower)

        try:
            response = await self._transports[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)  # an async transport's
        response.stream = _Releasing(response.stream, release)
        return response

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


class _Releasing(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream, self._release = stream, release
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if not self._released:
                self._released = True
                self._release()
