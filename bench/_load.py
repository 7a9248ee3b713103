"""The load generator the HTTP benchmarks share: keep-alive HTTP/1.1 connections driven by h11 on trio,
spread over several client processes, each request timed with ``time.perf_counter``.

It owns the client side only: what to request comes in as a ``Target``, and what it measured goes back as
a ``LoadResult``. We use raw h11 rather than httpx because httpx tops out near our server's own ceiling
(STACK.md: about 1-2.7k req/s), so an httpx client would mostly measure itself; h11 on trio does 10k/s+.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.pool import Pool

import h11
import trio

__all__ = ["LoadResult", "Target", "open_clients", "run_load"]

# Requests still in flight when the window closes may finish this long after it; their latency counts.
_DRAIN = 30.0
_READ = 65536


@dataclass(frozen=True)
class Target:
    """One request, repeated on every connection; ``expect`` is the status that counts as a success."""

    host: str
    port: int
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    expect: int = 200
    # Seconds between a connection's sends (an open loop: ``connections / pace`` req/s in all); 0: back to
    # back. Paced latencies run from when a request was due, so a slow server cannot hide its queue.
    pace: float = 0.0


@dataclass(frozen=True)
class _Sample:
    """What one client process measured."""

    completed: int  # successful requests that finished inside the window
    latencies: list[float]  # seconds, of the successful requests that started inside it
    errors: dict[int, int]  # unexpected status (0: a connection error) -> count


@dataclass(frozen=True)
class LoadResult:
    """The sum over the client processes; rates are over the measured window only."""

    completed: int
    seconds: float
    latencies: list[float] = field(repr=False)  # sorted
    errors: dict[int, int]

    @property
    def rate(self) -> float:
        return self.completed / self.seconds

    def percentile_ms(self, p: float) -> float:
        """The nearest-rank percentile in milliseconds (NaN without a sample)."""
        if not self.latencies:
            return math.nan
        rank = max(1, math.ceil(p / 100 * len(self.latencies)))
        return self.latencies[rank - 1] * 1000


def open_clients(processes: int) -> Pool:
    """A pool of ``processes`` client processes, started now so that their start-up is not timed.

    Resource handling: the caller must ``terminate()`` it. The clients ignore SIGINT, so Ctrl-C reaches
    only the caller, which then terminates them (rather than each printing its own traceback).
    """
    pool = multiprocessing.get_context("spawn").Pool(processes, initializer=_ignore_sigint)
    pool.map(_ready, range(processes))
    return pool


def run_load(pool: Pool, processes: int, target: Target, connections: int, seconds: float,
             warmup: float) -> LoadResult:
    """``connections`` keep-alive connections in all, split over ``processes`` clients, sending
    ``target`` back to back: ``warmup`` seconds un-timed, then a ``seconds`` window that is measured.

    The clients agree on the window through the wall clock (``time.time``), so a client that started
    late loses part of its warm-up, not part of the window.
    """
    start_at = time.time() + warmup
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    jobs = [(target, share, start_at, seconds) for share in shares if share]
    samples = pool.starmap_async(_client_process, jobs).get(timeout=warmup + seconds + _DRAIN + 30)
    errors: Counter[int] = Counter()
    for sample in samples:
        errors.update(sample.errors)
    latencies = sorted(lat for sample in samples for lat in sample.latencies)
    return LoadResult(sum(s.completed for s in samples), seconds, latencies, dict(errors))


# --- in each client process -----------------------------------------------------------------------------


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ready(_: int) -> None:
    """Nothing: mapping it over the pool makes every process start (spawn imports take a while)."""


def _client_process(target: Target, connections: int, start_at: float, seconds: float) -> _Sample:
    # perf_counter is what we time with; the wall clock only tells us where the shared window starts.
    window_start = time.perf_counter() + (start_at - time.time())
    return trio.run(_client, target, connections, window_start, window_start + seconds)


async def _client(target: Target, connections: int, window_start: float, window_end: float) -> _Sample:
    counts = _Counts(window_start, window_end)
    # A hard stop for requests that hang: the window plus the drain, on trio's clock.
    with trio.move_on_after(window_end - time.perf_counter() + _DRAIN):
        async with trio.open_nursery() as nursery:
            for _ in range(connections):
                nursery.start_soon(_connection, target, counts)
    return _Sample(counts.completed, counts.latencies, dict(counts.errors))


class _Counts:
    def __init__(self, window_start: float, window_end: float) -> None:
        self.window_start, self.window_end = window_start, window_end
        self.completed = 0
        self.latencies: list[float] = []
        self.errors: Counter[int] = Counter()

    def record(self, status: int, sent: float, done: float, expect: int) -> None:
        if status != expect:
            if sent >= self.window_start:
                self.errors[status] += 1
            return
        if sent >= self.window_start:
            self.latencies.append(done - sent)
        if self.window_start <= done <= self.window_end:
            self.completed += 1


async def _connection(target: Target, counts: _Counts) -> None:
    """Requests back to back on one connection until the window closes, reconnecting after a failure."""
    request = _request_events(target)
    while time.perf_counter() < counts.window_end:
        try:
            stream = await trio.open_tcp_stream(target.host, target.port)
        except OSError:
            counts.errors[0] += 1
            await trio.sleep(0.05)  # the server is gone or full: do not spin
            continue
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            due = time.perf_counter() + target.pace * random.random()  # spread the connections' sends
            while time.perf_counter() < counts.window_end:
                if target.pace:
                    await trio.sleep(max(0.0, due - time.perf_counter()))
                sent, due = (due if target.pace else time.perf_counter()), due + target.pace
                try:
                    status = await _exchange(stream, conn, request)
                except (OSError, trio.BrokenResourceError, h11.ProtocolError):
                    counts.errors[0] += 1
                    break
                counts.record(status, sent, time.perf_counter(), target.expect)
                if conn.our_state is not h11.IDLE:
                    break  # the server closes this connection (Connection: close): open another


def _request_events(target: Target) -> list[h11.Request | h11.Data | h11.EndOfMessage]:
    headers = [("Host", f"{target.host}:{target.port}"), ("Content-Length", str(len(target.body))),
               *target.headers]
    events: list[h11.Request | h11.Data | h11.EndOfMessage] = [
        h11.Request(method=target.method, target=target.path, headers=headers)
    ]
    if target.body:
        events.append(h11.Data(data=target.body))
    events.append(h11.EndOfMessage())
    return events


async def _exchange(stream: trio.SocketStream, conn: h11.Connection,
                    request: list[h11.Request | h11.Data | h11.EndOfMessage]) -> int:
    """Send one request and read its whole response; returns the status (the connection is then idle,
    unless the server asked to close it)."""
    await stream.send_all(b"".join(conn.send(event) or b"" for event in request))
    status = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(_READ))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise trio.BrokenResourceError("the server closed the connection mid-response")
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
    return status
