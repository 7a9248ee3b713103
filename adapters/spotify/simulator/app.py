"""The simulator as one raw ASGI app: routing, bearer checks, the dev-mode allowlist, scopes, the two
hidden limits, configured faults, and a request log.

It serves both of Spotify's hosts on one origin: the accounts service (``/authorize``, ``/api/token``)
and the Web API (``/v1/...``). Limits and faults apply to ``/v1`` only; accounts calls are never
throttled here. We use raw ASGI rather than Quart-Trio: it is a few dozen lines and much faster for
benchmarks. Serving over TCP is ``serve``'s job.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import trio

from adapters.spotify.simulator.api import CatalogApi, Route
from adapters.spotify.simulator.config import SimClock, SimulatorConfig
from adapters.spotify.simulator.library import LibraryApi
from adapters.spotify.simulator.oauth import AuthServer, Grant
from adapters.spotify.simulator.quota import DailyQuota, RollingWindow
from adapters.spotify.simulator.render import Renderer
from adapters.spotify.simulator.wire import ApiFailure, Request, Response, api_error, text_response
from adapters.spotify.simulator.world import World
from engine.clock import WallClock

__all__ = [
    "ALLOWLIST_MAX",
    "NOT_REGISTERED",
    "QUOTA_BODY",
    "Receive",
    "RequestRecord",
    "Scope",
    "Send",
    "SpotifySimulator",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ALLOWLIST_MAX = 5  # users per dev-mode app since February 2026
NOT_REGISTERED = "Check settings on developer.spotify.com/dashboard, the user may not be registered."
QUOTA_BODY = b'{"error":{"status":429,"message":"Too many requests","reason":"QUOTA_EXCEEDED"}}'


class RequestRecord(msgspec.Struct, frozen=True):
    """One request as the simulator saw it; ``outcome`` says which rule answered it."""

    method: str
    path: str
    query: str
    status: int
    sim_time: float
    user_id: str | None
    outcome: str  # ok | error | unauthorized | rate_limited | quota_exceeded | storm | fault | malformed


class SpotifySimulator:
    """The simulated Spotify: its world, its accounts service and its Web API, as an ASGI callable.

    ``clock`` defaults to real time at ``config.speed``; pass a ``SimClock`` over a hand-driven
    monotonic source in tests, or the service's ``WallClock`` (the sandbox: one clock for everything).
    ``log`` keeps the last ``log_size`` requests.
    """

    def __init__(self, config: SimulatorConfig, *, clock: SimClock | WallClock | None = None,
                 log_size: int = 10_000) -> None:
        self.config = config
        self.clock = clock or SimClock(config.start, config.speed)
        self.world = World(config)
        catalog = self.world.catalog
        self.auth = AuthServer(config, self.clock.now, frozenset(catalog.users), catalog.label_user.id,
                               fans=tuple(u.id for u in catalog.listeners))
        render = Renderer(catalog, config.mode)
        self._routes: list[Route] = [*CatalogApi(render, config).routes(),
                                     *LibraryApi(self.world, render, self.clock.now).routes()]
        default_allowed = (catalog.label_user.id, *(u.id for u in catalog.listeners[: ALLOWLIST_MAX - 1]))
        self.allowlist = frozenset((config.allowlist or default_allowed)[:ALLOWLIST_MAX])
        self._windows: dict[str, RollingWindow] = {}
        self._quotas: dict[str, DailyQuota] = {}
        self._faults = random.Random(f"{config.seed}:faults")
        self.log: deque[RequestRecord] = deque(maxlen=log_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await _read(scope, receive)
        response = await self.handle(request)
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers]
                    + [(b"content-length", str(len(response.body)).encode())]})
        await send({"type": "http.response.body", "body": response.body})

    async def handle(self, request: Request) -> Response:
        """Answers one request and logs it."""
        if request.path == "/authorize" and request.method == "GET":
            response, user, outcome = self.auth.authorize(request), None, "ok"
        elif request.path == "/api/token" and request.method == "POST":
            response, user, outcome = self.auth.token(request), None, "ok"
        else:
            if self.config.faults.latency_s:
                await trio.sleep(self.config.faults.latency_s)
            response, user, outcome = self._api(request)
        if outcome == "ok" and response.status >= 400:
            outcome = "error"
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        self.log.append(RequestRecord(request.method, request.path, query, response.status, self.clock.now(), user,
                                      outcome))
        return response

    def _api(self, request: Request) -> tuple[Response, str | None, str]:
        found = self._route(request)
        if isinstance(found, Response):
            return found, None, "error"
        route, match = found
        grant = self.auth.authenticate(request.headers.get("authorization"))
        if isinstance(grant, str):
            return api_error(401, grant), None, "unauthorized"
        refused = self._limits(grant)
        if refused is not None:
            return refused, grant.user_id, "quota_exceeded" if refused.body == QUOTA_BODY else "rate_limited"
        fault = self._fault()
        if fault is not None:
            return fault, grant.user_id, "storm" if fault.status == 429 else "fault"
        if self.config.mode == "development" and grant.user_id not in self.allowlist:
            return api_error(403, NOT_REGISTERED), grant.user_id, "error"
        if route.scope is not None and route.scope not in grant.scope.split():
            return api_error(403, "Insufficient client scope"), grant.user_id, "error"
        try:
            response = route.handler(request, grant, match)
        except ApiFailure as failure:
            return failure.response, grant.user_id, "error"
        if response.status == 200 and self._roll(self.config.faults.malformed_rate):
            response.body = response.body[: len(response.body) // 2]
            return response, grant.user_id, "malformed"
        return response, grant.user_id, "ok"

    def _route(self, request: Request) -> tuple[Route, re.Match[str]] | Response:
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is not None:
                if route.method == request.method:
                    return route, match
                allowed = True
        return api_error(405, "Method not allowed") if allowed else api_error(404, "Service not found")

    def _limits(self, grant: Grant) -> Response | None:
        """The daily quota first, then the rolling window; both keyed by app (dev mode: by developer)."""
        limits, now = self.config.rate_limit, self.clock.now()
        key = "developer" if self.config.mode == "development" else grant.client_id
        if limits.daily_quota is not None:
            quota = self._quotas.setdefault(key, DailyQuota(limits.daily_quota))
            wait = quota.admit(now)
            if wait is not None:
                return Response(429, QUOTA_BODY, [("content-type", "application/json; charset=utf-8"),
                                                  ("retry-after", str(wait))])
        if limits.window_limit is not None:
            window = self._windows.setdefault(key, RollingWindow(limits.window_limit, limits.window_s,
                                                                 limits.penalty_s))
            wait = window.admit(now)
            if wait is not None:
                return _too_many(wait, json=limits.json_body)
        return None

    def _fault(self) -> Response | None:
        faults, now = self.config.faults, self.clock.now()
        for start, end in faults.storms:
            if start.timestamp() <= now < end.timestamp():
                return _too_many(max(1, math.ceil(end.timestamp() - now)), json=False)
        if self._roll(faults.storm_rate):
            return _too_many(faults.storm_retry_after, json=False)
        if self._roll(faults.error_rate):
            status = self._faults.choice((500, 502, 503))
            return api_error(status, {500: "Server error.", 502: "Bad gateway.", 503: "Service unavailable"}[status])
        return None

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._faults.random() < rate


def _too_many(retry_after: int, *, json: bool) -> Response:
    """The window 429: historically plain text "Too many requests" (17 bytes), optionally JSON."""
    response = api_error(429, "Too many requests") if json else text_response(429, "Too many requests")
    response.headers.append(("retry-after", str(retry_after)))
    return response


async def _read(scope: Scope, receive: Receive) -> Request:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 80))
    return Request(scope["method"], scope["path"], dict(reversed(pairs)), headers, b"".join(chunks),
                   f"{scope.get('scheme', 'http')}://{host}")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
