"""The simulator's ASGI application: auth, routing, scopes, quotas, faults and the request log, in that order.

It owns the request pipeline and nothing else: objects live in ``world``, limits in ``quota``, tokens
in ``oauth``, the URL table in ``routes``, shapes in ``objects``/``insights``/``reports``/``batch``.
A raw ASGI callable (no framework) keeps it small and lets hypercorn and ``httpx.ASGITransport``
drive it alike.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import trio

from .audiences import Audiences
from .batch import run_batch
from .callers import CallerLog
from .capi import Conversions
from .clock import Clock, SimClock, parse_start
from .config import SimulatorConfig, account_token
from .graph import GraphError, Request, Response, json_response
from .oauth import OAuth, Token
from .quota import QuotaModel, Throttle
from .reports import Reports
from .routes import Objects, Route, resolve
from .world import World

__all__ = ["LoggedRequest", "MetaSimulator"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_LOG_PATH = "/__simulator/requests"
_CALLERS_PATH = "/__simulator/callers"  # who called for which ad account (``callers``)


class LoggedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One call as the simulator saw it; ``params`` never include the access token."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    at: float  # simulated Unix seconds


def _check_scopes(token: Token, route: Route) -> None:
    """Writes need ads_management; reads need ads_read or ads_management (PROVIDERS.md A1)."""
    if "ads_management" in token.scopes or (not route.write and "ads_read" in token.scopes):
        return
    needed = "ads_management" if route.write else "ads_read or ads_management"
    raise GraphError(f"(#200) Requires {needed} permission to manage the object", code=200)


class MetaSimulator:
    """A simulated Meta Graph/Marketing API. Call it as an ASGI app; ``world`` holds the ground truth.

    ``clock`` defaults to a ``SimClock`` on trio time from ``config.start`` at ``config.speed``.
    """

    def __init__(self, config: SimulatorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SimClock(parse_start(self.config.start), self.config.speed)
        self.world = World(self.config, self.clock)
        self.oauth = OAuth(self.config, self.clock, random.Random(f"{self.config.seed}:oauth"))
        if self.config.account_tokens:
            self.oauth.issue([account_token(account) for account in self.world.accounts])
        self.quota = QuotaModel(self.config)
        self.reports = Reports(self.config, self.clock, random.Random(f"{self.config.seed}:reports"))
        self.audiences = Audiences(self.clock, random.Random(f"{self.config.seed}:audiences"))
        self.conversions = Conversions(self.clock, random.Random(f"{self.config.seed}:capi"))
        self._objects = Objects(self.world, self.reports, self.audiences, self.conversions)
        self.requests: list[LoggedRequest] = []
        self.callers = CallerLog()
        self._faults = random.Random(f"{self.config.seed}:faults")
        self._write_faults = random.Random(f"{self.config.seed}:write-faults")
        self._writes = 0  # campaign writes so far, for ``faults.refused_writes``
        self._traces = random.Random(f"{self.config.seed}:traces")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        response = await self._respond(scope, body)
        headers = [(b"content-type", response.content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    def _trace_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        return "A" + "".join(self._traces.choice(alphabet) for _ in range(22))

    async def _respond(self, scope: Scope, body: bytes) -> Response:
        trace = self._trace_id()
        try:
            request = Request.from_asgi(scope, body)
        except GraphError as exc:
            return exc.response(trace)
        if self.config.faults.latency_s:
            await trio.sleep(self.config.faults.latency_s)
        if request.path == "/" and request.method == "POST" and "batch" in request.params:
            try:
                return run_batch(request, self._handle_logged)
            except GraphError as exc:
                return exc.response(trace)
        return self._handle_logged(request, trace)

    def _handle_logged(self, request: Request, trace: str | None = None) -> Response:
        trace = trace or self._trace_id()
        response = self._handle(request, trace)
        response.headers.append(("x-fb-trace-id", trace))
        if request.path not in (_LOG_PATH, _CALLERS_PATH):
            prefix = f"/{request.version}" if request.version else ""
            params = {k: v for k, v in request.params.items() if k != "access_token"}
            logged = LoggedRequest(
                method=request.method,
                path=prefix + request.path,
                params=params,
                status=response.status,
                at=self.clock.now(),
            )
            self.requests.append(logged)
        return response

    def _handle(self, request: Request, trace: str) -> Response:
        """Answer one Graph call (a whole request, or one item of a batch): auth, route, quotas, faults."""
        if request.path == _LOG_PATH:
            return json_response({"data": msgspec.to_builtins(self.requests)})
        if request.path == _CALLERS_PATH:
            return json_response(self.callers.as_json())
        route: Route | None = None
        usage: list[tuple[str, str]] = []
        try:
            if (answer := self.oauth.route(request)) is not None:
                return answer
            token = self.oauth.authenticate(request)
            route = resolve(self._objects, request)
            if route.account is not None:
                self.callers.record(route.account.account_id, request.headers.get("user-agent", ""), token.value,
                                    self.clock.now())
            _check_scopes(token, route)
            usage = self._charge(route)
            response = self._faulty(route, request)
        except GraphError as exc:
            if exc.code == 100 and route is not None and route.account is not None:
                self.quota.record_user_error(route.account.account_id)
            response = exc.response(trace)
        response.headers.extend(usage)
        return response

    def _charge(self, route: Route) -> list[tuple[str, str]]:
        """Count the call everywhere it counts; return the usage headers, or raise the throttle with them."""
        now = self.clock.now()
        refusal = self.quota.charge_app(now)
        if route.account is not None:
            account_id = route.account.account_id
            charged = self.quota.charge(account_id, route.buc, write=route.write, now=now, mutation=route.mutation)
            refusal = charged or refusal
        if route.insights:
            load = self.quota.charge_insights_load(now)  # counted even when already refused
            refusal = refusal or load
        usage = self._usage(route, now)
        storm = any(start <= now < end for start, end in self.config.faults.storms)
        if refusal is None and (storm or self._faults.random() < self.config.faults.throttle_rate):
            refusal = Throttle(17, 2446079, "(#17) User request limit reached")
        if refusal is None:
            return usage
        extra = [("www-authenticate", refusal.www_authenticate)] if refusal.www_authenticate else []
        transient = self.config.faults.throttle_is_transient
        raise GraphError(
            refusal.message, code=refusal.code, subcode=refusal.subcode, is_transient=transient, headers=extra + usage
        )

    def _usage(self, route: Route, now: float) -> list[tuple[str, str]]:
        headers = self.quota.app_headers(now)
        if route.account is not None:
            headers += self.quota.account_headers(route.account.account_id, route.buc, now, insights=route.insights)
        return headers

    def _faulty(self, route: Route, request: Request) -> Response:
        """Run the route's handler unless a configured fault answers instead (500 code 1/99, 503, code 2,
        a bad body, a refused write)."""
        faults, draw = self.config.faults, self._faults.random()
        if draw < faults.error_500_rate:
            raise GraphError("An unknown error occurred", code=1, subcode=99, status=500, is_transient=True)
        if draw < faults.error_500_rate + faults.error_503_rate:
            return Response(503, b"Service Unavailable", content_type="text/html; charset=utf-8")
        if draw < faults.error_500_rate + faults.error_503_rate + faults.error_2_rate:
            raise _unexpected()
        request.empty_page = self._faults.random() < faults.empty_page_rate
        if route.mutation:
            self._refuse_write()
        response = route.handler(request)
        if draw < faults.error_500_rate + faults.error_503_rate + faults.error_2_rate + faults.malformed_rate:
            response.body = response.body[: len(response.body) // 2]
        return response

    def _refuse_write(self) -> None:
        """Raise the configured write refusal for this campaign write, if it is one to refuse."""
        faults = self.config.faults
        self._writes += 1
        refused = self._writes <= faults.refused_writes or (
            faults.write_error_rate > 0 and self._write_faults.random() < faults.write_error_rate)
        if not refused:
            return
        if faults.write_error_code == 2:
            raise _unexpected()
        raise GraphError("Invalid parameter", code=100, user_title="Write refused",
                         user_msg="The simulator was told to refuse this write (faults.write_error_code 100).")


def _unexpected() -> GraphError:
    """Meta's code 2: a transient service error, HTTP 500, to retry."""
    message = "An unexpected error has occurred. Please retry your request later."
    return GraphError(message, code=2, status=500, is_transient=True)
