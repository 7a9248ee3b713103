"""The webhook dispatcher: drains the durable outbox (``engine.store.webhook_deliveries``), signing and POSTing each
due delivery to its endpoint and recording every attempt and what follows from it. It knows nothing of
Meta or Spotify, only of endpoints, events and HTTP.

How one process works: a LISTEN on ``OUTBOX_CHANNEL`` (and a retry falling due, and a fallback poll)
wakes the loop; it claims due deliveries for ``timeout + slack`` seconds (so no other worker sends the same
attempt while ours may still be in flight), at most ``max_concurrency`` at once and at most each endpoint's
``max_in_flight``, and sends each in its own task. A slow endpoint holds only its own slots. Finished
attempts go to one recorder task, which logs every attempt that finished while it wrote the last batch in
one statement; a slot is free once its attempt is logged, and the same statement claims what is due in the
slots its batch frees (``record_and_claim``: one round trip per batch, not two). A delivery is only ever sent
after it was committed, and a crash anywhere loses nothing: its claim expires and it is sent again
(receivers dedupe on the event id). A dispatcher's worker id is its engine process's node id, and
every ``poll_interval`` each dispatcher takes back the claims of processes whose heartbeat is older than
``take_back_after`` (the lease TTL): a killed process's deliveries are sent again then, not once their
claims expire.

SSRF: ``GuardedTransport`` resolves the target's name itself, refuses it unless every address is public or
inside ``allow_subnets``, then connects to the checked address with the original name in the ``Host``
header and as the TLS SNI / certificate name (httpcore's ``sni_hostname`` request extension), so a DNS
answer that changes between our check and the connect cannot redirect us. Redirects are never followed.
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import logging
import os
import random
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from importlib.metadata import version
from typing import NoReturn

import httpx
import msgspec
import trio
from opentelemetry.trace import Span, SpanKind, StatusCode

from config.sections import WebhooksSettings
from engine.clock import utc_now
from engine.metrics import WEBHOOK_ATTEMPT_DURATION, WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_DELAY
from engine.secrets_box import SealError
from engine.store import webhook_deliveries as deliveries
from engine.store.database import Database, StoreError
from engine.store.outbox import OUTBOX_CHANNEL
from engine.tracing import continued_span
from engine.webhooks.schedule import FAST, STANDARD, Outcome, Schedule, classify, decide, parse_retry_after
from engine.webhooks.signing import request_headers
from engine.webhooks.ssrf import Network, UnsafeTarget, check_address, check_url, parse_subnets

__all__ = ["DispatcherConfig", "GuardedTransport", "WebhookDispatcher", "resolve_host"]

log = logging.getLogger(__name__)

USER_AGENT = f"SongTrackPro-Webhooks/{version('songtrackpro')}"
_RESPONSE_LIMIT = 4096
_GIVE_BACK_TIMEOUT = 5.0
# A settled delivery's outcome label, by the decision that settled it (``disable``: the endpoint was disabled).
_SETTLED = {"succeed": "succeeded", "fail": "failed", "disable": "disabled"}
_envelope = msgspec.json.Decoder(dict[str, object])
_encoder = msgspec.json.Encoder()

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class DispatcherConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How the dispatcher behaves; ``from_settings`` reads the ``[webhooks]`` section."""

    timeout: float = 15.0  # the whole attempt: connect, send, answer
    schedule: Schedule = STANDARD
    poll_interval: float = 5.0
    allow_subnets: tuple[str, ...] = ()
    max_concurrency: int = 64  # deliveries in flight in this process
    claim_slack: float = 30.0  # a claim lasts timeout + slack: enough to record the attempt

    @classmethod
    def from_settings(cls, settings: WebhooksSettings) -> DispatcherConfig:
        return cls(timeout=settings.timeout, schedule=FAST if settings.schedule == "fast" else STANDARD,
                   poll_interval=settings.poll_interval, allow_subnets=settings.subnets())


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, through trio's thread pool)."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that only connects to addresses the SSRF rules allow (``engine.webhooks.ssrf``).

    Each request's host is resolved here; if any address is refused the request fails with
    ``UnsafeTarget`` before a connection is made. Otherwise we connect to the first address, keeping the
    name in ``Host`` and in TLS (SNI and certificate check). One inner connection pool per host name, so a
    kept-alive TLS connection made for one name is never reused for another name on the same address.
    """

    def __init__(self, allow: Sequence[Network] = (), *, resolve: Resolver = resolve_host,
                 inner: Callable[[], httpx.AsyncBaseTransport] = httpx.AsyncHTTPTransport) -> None:
        self._allow, self._resolve, self._inner = tuple(allow), resolve, inner
        self._pools: dict[str, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        check_url(str(request.url), self._allow)  # scheme, credentials, literal addresses
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            addresses = await self._resolve(host, port)
            if not addresses:
                raise UnsafeTarget(f"{host} does not resolve") from None
            checked = [check_address(address, self._allow) for address in addresses]
            request.url = request.url.copy_with(host=str(checked[0]))
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        else:
            check_address(literal, self._allow)
        pool = self._pools.get(host)
        if pool is None:
            pool = self._pools[host] = self._inner()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


class WebhookDispatcher:
    """Sends the outbox's deliveries; see the module docstring for how.

    ``secret_key`` opens the endpoints' sealed secrets (``Keys.token_encryption_key``), each once (see
    ``OpenedSecrets``). Requests go straight to the SSRF-guarded transport, without an ``httpx.AsyncClient``:
    a delivery needs none of its cookies, redirects, auth or default headers, and they cost a sixth of the
    send. ``now`` is the wall clock (stored and signed times); sleeps and deadlines use trio's clock.
    ``draw`` picks the retry jitter. ``worker_id`` is what our claims are marked with: the engine process's
    node id (``str(node_id)``), so that ``take_back_after`` seconds after a process's last heartbeat the
    others take its claims back.
    """

    def __init__(self, db: Database, config: DispatcherConfig, *, secret_key: bytes,
                 now: Callable[[], datetime] = utc_now,
                 draw: Callable[[], float] = random.random, resolve: Resolver = resolve_host,
                 worker_id: str | None = None, take_back_after: float = 30.0) -> None:
        self._db, self._config, self._secrets = db, config, deliveries.OpenedSecrets(secret_key)
        self._now, self._draw, self._resolve = now, draw, resolve
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._allow = parse_subnets(config.allow_subnets)
        self._lease = timedelta(seconds=config.timeout + config.claim_slack)
        self._take_back_after = take_back_after
        self._limiters: dict[uuid.UUID, trio.CapacityLimiter] = {}
        self._in_flight = 0
        self._retries: list[float] = []  # trio times at which retries we scheduled fall due
        self._wake = trio.Event()
        self.sent = 0  # attempts made by this dispatcher, for tests and status

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        """Reports started once it listens for new events (so nothing committed later is missed until
        the next poll); then claims and sends forever. Crashes (and is restarted by its supervisor) when
        the database is unavailable. Whether it stops or crashes, it gives back the deliveries it still
        holds (``_give_back``), so another process sends them at once.

        Resource handling: the transport and its connections, the LISTEN connection and every send task live
        inside ``run``.
        """
        self._in_flight = 0  # restarted after a crash: the last run's sends are gone with its nursery
        transport = GuardedTransport(self._allow, resolve=self._resolve)
        try:
            await self._claim_and_send(transport, task_status)
        finally:
            await self._give_back()

    async def _claim_and_send(self, transport: GuardedTransport, task_status: trio.TaskStatus[None]) -> NoReturn:
        # Unbuffered: a finished attempt waits in its task until the recorder takes it with the others.
        finished, inbox = trio.open_memory_channel[deliveries.Attempted](0)
        async with transport, self._db.listen(OUTBOX_CHANNEL) as events, trio.open_nursery() as nursery:
            start = functools.partial(self._start, nursery, transport, finished)
            nursery.start_soon(self._wake_on, events)
            nursery.start_soon(self._take_back)
            nursery.start_soon(self._record, inbox, start)
            task_status.started()
            while True:
                self._wake = trio.Event()
                free = self._reserve()
                start(free, await deliveries.claim_due(self._db, self.worker_id, now=self._now(),
                                                       lease=self._lease, limit=free))
                await self._idle()  # a claim takes all it may: more only once woken

    def _reserve(self) -> int:
        """Take every free slot for a claim under way (so that a concurrent claim, the main loop's or the
        recorder's, never counts them free too); ``_start`` gives back those it did not fill."""
        free = self._config.max_concurrency - self._in_flight
        self._in_flight += free
        return free

    def _start(self, nursery: trio.Nursery, transport: GuardedTransport,
               finished: trio.MemorySendChannel[deliveries.Attempted], reserved: int,
               claims: Sequence[deliveries.Claim]) -> None:
        self._in_flight -= reserved - len(claims)
        for claim in claims:
            nursery.start_soon(self._deliver, transport, claim, finished)

    async def _give_back(self) -> None:
        """Make due at once the deliveries we still hold (sends cut off by a stop or a crash), so another
        process sends them now instead of once our claims expire or our heartbeat is old. Shielded and
        bounded; unreachable, the claims expire by themselves."""
        with trio.move_on_after(_GIVE_BACK_TIMEOUT) as scope:
            scope.shield = True
            try:
                if released := await deliveries.release_claims(self._db, self.worker_id):
                    log.info("gave back %d webhook deliveries cut off mid-send", released)
            except StoreError as exc:
                log.warning("could not give back our webhook deliveries (%s); their claims expire", exc)

    async def _wake_on(self, events: trio.abc.ReceiveChannel[object]) -> None:
        async for _ in events:
            self._wake.set()

    async def _take_back(self) -> NoReturn:
        """Every ``poll_interval``: the claims of silent processes become due, and we wake to claim them."""
        while True:
            taken = await deliveries.take_back_claims(self._db, self.worker_id, silent_for=self._take_back_after)
            if taken:
                log.info("took back %d webhook deliveries claimed by engine processes silent for %g s",
                         taken, self._take_back_after)
                self._wake.set()
            await trio.sleep(self._config.poll_interval)

    async def _idle(self) -> None:
        """Wait for a notification, a finished delivery, a retry falling due, or the poll interval."""
        now = trio.current_time()
        while self._retries and self._retries[0] <= now:
            heapq.heappop(self._retries)
        wait = self._config.poll_interval
        if self._retries:
            wait = min(wait, self._retries[0] - now)
        with trio.move_on_after(wait):
            await self._wake.wait()

    def _limiter(self, claim: deliveries.Claim) -> trio.CapacityLimiter:
        limiter = self._limiters.get(claim.endpoint_id)
        if limiter is None:
            limiter = self._limiters[claim.endpoint_id] = trio.CapacityLimiter(claim.max_in_flight)
        limiter.total_tokens = claim.max_in_flight  # follows an update of the endpoint
        return limiter

    async def _deliver(self, transport: GuardedTransport, claim: deliveries.Claim,
                       finished: trio.MemorySendChannel[deliveries.Attempted]) -> None:
        """Make one attempt and hand it to the recorder (``_record``), which frees its slot once it is logged."""
        attributes: dict[str, str | int] = {
            "songtrack.webhook.event_id": claim.event_id, "songtrack.webhook.attempt": claim.attempts + 1,
            "songtrack.webhook.endpoint_id": str(claim.endpoint_id)}
        # A child of the span that enqueued the event (the request that caused it), when there was one.
        with continued_span("webhook delivery", claim.traceparent, attributes, SpanKind.CLIENT) as span:
            attempted = await self._attempt_and_decide(transport, claim, span)
        await finished.send(attempted)

    async def _attempt_and_decide(self, transport: GuardedTransport, claim: deliveries.Claim,
                                  span: Span) -> deliveries.Attempted:
        async with self._limiter(claim):
            result, outcome, retry_after = await self._attempt(transport, claim)
        span.set_attribute("songtrack.outcome", outcome.value)
        if result.status_code is not None:
            span.set_attribute("http.response.status_code", result.status_code)
        if outcome is not Outcome.SUCCEEDED:
            span.set_status(StatusCode.ERROR, result.error or f"answered {result.status_code}")
        self.sent += 1
        WEBHOOK_ATTEMPTS.labels(outcome.value).inc()
        decision = decide(self._config.schedule, claim.attempts + 1, outcome, retry_after=retry_after,
                          draw=self._draw())
        return deliveries.Attempted(claim, result, decision)

    async def _record(self, inbox: trio.MemoryReceiveChannel[deliveries.Attempted],
                      start: Callable[[int, Sequence[deliveries.Claim]], None]) -> None:
        """Log finished attempts, every one that finished while the last batch was written in one round trip,
        so that many in flight cost one statement, not a transaction each; the same round trip claims what
        is due in the slots the batch frees, and ``start`` sends it. An attempt's delivery stays claimed
        until its batch commits: a crash before that loses nothing (the delivery is sent again)."""
        async for first in inbox:
            batch = [first]
            while True:
                try:
                    batch.append(inbox.receive_nowait())
                except trio.WouldBlock:
                    break
            self._in_flight -= len(batch)  # the batch's slots go to the claim made with its record
            free = self._reserve()
            owned, claims = await deliveries.record_and_claim(self._db, self.worker_id, batch, now=self._now(),
                                                              lease=self._lease, limit=free)
            start(free, claims)
            for attempted in batch:
                self._recorded(attempted, attempted.claim.delivery_id in owned)

    def _recorded(self, attempted: deliveries.Attempted, owned: bool) -> None:
        claim, decision = attempted.claim, attempted.decision
        if not owned:
            log.warning("delivery %s: our claim expired while sending; its new owner decides", claim.delivery_id)
        elif decision.action != "retry":
            WEBHOOK_DELIVERIES.labels(_SETTLED[decision.action]).inc()
            if decision.action == "succeed":  # real time against the database's stamp, whatever our clock
                WEBHOOK_DELIVERY_DELAY.observe(max(0.0, (utc_now() - claim.event_created_at).total_seconds()))
        if decision.action == "retry":  # the main loop's wait for the next one due changes
            heapq.heappush(self._retries, trio.current_time() + decision.delay)
            self._wake.set()

    async def _attempt(self, transport: GuardedTransport,
                       claim: deliveries.Claim) -> tuple[deliveries.AttemptResult, Outcome, float | None]:
        attempted_at, started = self._now(), trio.current_time()
        body = _body(claim.payload)
        try:
            signing_secrets = self._secrets.active(claim, attempted_at)
        except SealError:  # a key that changed, or a damaged row: nothing we could retry our way out of
            log.error("webhook endpoint %s: its secret does not open with our key", claim.endpoint_id)
            result = deliveries.AttemptResult(attempted_at=attempted_at, duration_ms=0,
                                         error="the endpoint's secret cannot be opened; rotate it")
            return result, Outcome.FAILED, None
        headers = request_headers(claim.event_id, int(attempted_at.timestamp()), body, signing_secrets,
                                  user_agent=USER_AGENT)
        status: int | None = None
        text = error = None
        retry_after: float | None = None
        timed_out = False
        with trio.move_on_after(self._config.timeout) as deadline:
            try:
                request = httpx.Request("POST", claim.url, content=body, headers=headers)
                response = await transport.handle_async_request(request)  # streamed: we read 4 KB at most
                try:
                    status = response.status_code
                    retry_after = parse_retry_after(response.headers.get("retry-after"), attempted_at)
                    text = await _read_start(response)
                finally:
                    await response.aclose()
            except UnsafeTarget as exc:
                error = f"refused by the SSRF guard: {exc}"
            except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                timed_out = isinstance(exc, httpx.TimeoutException)
        if deadline.cancelled_caught:
            timed_out, error = True, f"no answer within {self._config.timeout:g} s"
        WEBHOOK_ATTEMPT_DURATION.observe(trio.current_time() - started)
        duration = round((trio.current_time() - started) * 1000)
        result = deliveries.AttemptResult(attempted_at=attempted_at, duration_ms=duration, status_code=status,
                                     error=error, response_body=text)
        return result, classify(status, timed_out=timed_out and status is None), retry_after


def _body(payload: str) -> bytes:
    """The envelope as sent: ``id, type, timestamp, data`` in that order (jsonb does not keep it)."""
    envelope = _envelope.decode(payload)
    ordered = {key: envelope[key] for key in ("id", "type", "timestamp", "data") if key in envelope}
    return _encoder.encode(ordered)


async def _read_start(response: httpx.Response) -> str:
    """The first 4 KB of the answer; we do not read further (a receiver may send anything)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _RESPONSE_LIMIT:
            break
    return b"".join(chunks)[:_RESPONSE_LIMIT].decode("utf-8", "replace")
