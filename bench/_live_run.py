"""One row of bench/live.py: a fresh server process (ours or bare), client processes that connect and
subscribe, the event source for the measured window, and what everyone measured, as a ``Run``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec
import trio

from bench._server import ServerProcess
from engine.store import open_database
from engine.store import stream_events as store

__all__ = ["BATCH_EVERY", "Fixture", "Run", "measure"]

BATCH_EVERY = 0.1  # seconds between the source's batches
SETTLE = 1.0  # seconds after the last client subscribed, before the "after" RSS and the window
_CLIENTS = Path(__file__).with_name("_live_clients.py")
_SERVERS = Path(__file__).with_name("_live_servers.py")
_TICK = os.sysconf("SC_CLK_TCK")

Send = Callable[[int, int], Awaitable[None]]  # (events, index of the first): send one batch


@dataclass(frozen=True)
class Fixture:
    dsn: str
    data_dir: Path
    organization_id: uuid.UUID
    track_id: uuid.UUID
    token: str
    env: dict[str, str]  # for our server process (database URL, live settings)


@dataclass
class Run:
    kind: str
    clients: int
    slow: int
    rate: float  # events per second in
    connected: int = 0
    connect_seconds: float = 0.0
    failed: Counter[str] = field(default_factory=Counter)
    sent: int = 0  # events the source sent in the window
    fast: int = 0
    delivered: int = 0  # stream frames the fast clients received by the end of the drain
    counts: int = 0  # counts snapshots they received meanwhile (ours only)
    histogram: Counter[int] = field(default_factory=Counter)
    fast_closed: Counter[int] = field(default_factory=Counter)
    slow_closed: Counter[int] = field(default_factory=Counter)
    unfinished: int = 0  # the source's batches still running at the end of the drain (then cancelled)
    source_errors: Counter[str] = field(default_factory=Counter)
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    rss_end_kb: int = 0
    server_cpu: float = 0.0  # % of one core over the window
    server_cpu_seconds: float = 0.0  # from the window's start to the end of the drain
    clients_cpu: float = 0.0  # all client processes together, % of one core

    def percentile_ms(self, p: float) -> float:
        total = sum(self.histogram.values())
        if not total:
            return math.nan
        rank, seen = max(1, math.ceil(p / 100 * total)), 0
        for bucket in sorted(self.histogram):
            seen += self.histogram[bucket]
            if seen >= rank:
                return (bucket + 0.5) / 10  # the middle of its 0.1 ms bucket
        return math.nan

    @property
    def expected(self) -> int:
        return self.sent * self.fast

    @property
    def us_per_frame(self) -> float:
        """Server CPU per frame (stream or counts) delivered to a fast client, over the window and the drain
        (frames to slow clients, pings and replies are not counted)."""
        frames = self.delivered + self.counts
        return self.server_cpu_seconds / frames * 1e6 if frames else math.nan

    @property
    def rss_per_client_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(1, self.connected)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def measure(kind: str, clients: int, slow: int, fixture: Fixture, root: Path, *, processes: int, seconds: float,
            rate: float, drain: float, ramp: float, batch: bool = False) -> Run:
    argv = [sys.executable, str(_SERVERS), kind, "--data-dir", str(fixture.data_dir)]
    server, url = ServerProcess.launch(argv, root, what=f"{kind} server", start_timeout=60.0, stop_timeout=5.0,
                                       env=fixture.env if kind == "ours" else None)
    run = Run(kind, clients, slow, rate)
    workers: list[subprocess.Popen[str]] = []
    try:
        time.sleep(0.5)  # let the server finish starting (the LiveHub's LISTEN, the pool)
        run.rss_before_kb = _rss_kb(server.process.pid)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        path = "/ws" if kind == "bare" else "/v1/streaming/ws"
        for n, n_slow in zip(_shares(clients, processes), _shares(slow, processes), strict=True):
            spec = {"host": host, "port": int(port), "path": path, "token": fixture.token,
                    "track": str(fixture.track_id), "clients": n, "slow": n_slow, "ramp": ramp,
                    "batch": batch and kind == "ours"}
            workers.append(subprocess.Popen([sys.executable, str(_CLIENTS), json.dumps(spec)], text=True,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        trio.run(_measure, run, server.process.pid, url, fixture, workers, seconds, rate, drain)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
        if (code := server.stop()) not in (0, -15, -9):  # -9: not stopped within stop_timeout (many clients)
            print(f"the {kind} server exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)
    return run


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


async def _measure(run: Run, pid: int, url: str, fixture: Fixture, workers: list[subprocess.Popen[str]],
                   seconds: float, rate: float, drain: float) -> None:
    for worker in workers:
        hello = await _read(worker.stdout)
        run.connected += hello["connected"]
        run.failed.update(hello["failed"])
        run.connect_seconds = max(run.connect_seconds, hello["seconds"])
    await trio.sleep(SETTLE)
    run.rss_after_kb = _rss_kb(pid)
    pids = [w.pid for w in workers]
    start: list[float] = []  # monotonic time, server CPU and clients' CPU at the window's start

    def window_end() -> None:
        elapsed = time.monotonic() - start[0]
        run.server_cpu = 100 * (_cpu_seconds([pid]) - start[1]) / elapsed
        run.clients_cpu = 100 * (_cpu_seconds(pids) - start[2]) / elapsed
        run.rss_end_kb = _rss_kb(pid)
        for worker in workers:  # they read ``drain`` seconds longer
            assert worker.stdin is not None
            worker.stdin.write(f"stop {drain}\n")
            worker.stdin.flush()

    send = _post_source(url, fixture.track_id) if run.kind == "bare" else _ingest_source(fixture)
    async with send as batch:
        start.extend((time.monotonic(), _cpu_seconds([pid]), _cpu_seconds(pids)))
        run.sent, run.unfinished, run.source_errors = await _paced(seconds, rate, batch, drain, window_end)
    results = [(await _read(worker.stdout))["result"] for worker in workers]
    run.server_cpu_seconds = _cpu_seconds([pid]) - start[1]
    for result in results:
        run.fast += result["fast"]
        run.delivered += result["delivered"]
        run.counts += result["counts"]
        run.histogram.update({int(k): v for k, v in result["histogram"].items()})
        run.fast_closed.update({int(k): v for k, v in result["fast_closed"].items()})
        run.slow_closed.update({int(k): v for k, v in result["slow_closed"].items()})


async def _read(stream: IO[str] | None) -> dict[str, Any]:
    assert stream is not None
    line = await trio.to_thread.run_sync(stream.readline, abandon_on_cancel=True)
    if not line:
        raise SystemExit("a client process ended early (its error is above)")
    decoded: dict[str, Any] = json.loads(line)
    return decoded


async def _paced(seconds: float, rate: float, send: Send, grace: float,
                 window_end: Callable[[], None]) -> tuple[int, int, Counter[str]]:
    """Call ``send(count, first)`` every BATCH_EVERY s with the events due since the start, each batch in its
    own task (so a slow one delays no later batch); after the window, give the batches still running
    ``grace`` seconds, then cancel them. Returns the events sent, the batches cancelled and the errors."""
    sent, unfinished, errors, start = 0, 0, Counter[str](), trio.current_time()

    async def batch(count: int, first: int) -> None:
        nonlocal unfinished
        unfinished += 1
        try:
            await send(count, first)
        except Exception as exc:  # counted and shown; the window goes on
            errors[type(exc).__name__] += 1
        unfinished -= 1

    async with trio.open_nursery() as nursery:
        tick = 1
        while (due := start + tick * BATCH_EVERY) <= start + seconds + 1e-9:
            await trio.sleep_until(due)
            count = int(rate * tick * BATCH_EVERY + 1e-9) - sent
            if count:
                nursery.start_soon(batch, count, sent)
                sent += count
            tick += 1
        window_end()
        nursery.cancel_scope.deadline = trio.current_time() + grace
    return sent, unfinished, errors


@asynccontextmanager
async def _ingest_source(fixture: Fixture) -> AsyncIterator[Send]:
    """Our events go in as any source's do: ``stream_events.ingest``, one transaction per batch, with
    occurred_at = now (the ``timestamp`` the clients receive)."""
    run_id = uuid.uuid4().hex[:8]
    async with open_database(fixture.dsn, min_size=1, max_size=4) as db:

        async def send(count: int, first: int) -> None:
            now = datetime.now(UTC)
            events = [store.NewEvent(event_id=f"bench-{run_id}-{first + i}", track_id=fixture.track_id,
                                     platform="spotify", country="SE" if i % 2 else "US", occurred_at=now)
                      for i in range(count)]
            await store.ingest(db, fixture.organization_id, events, received_at=now)

        yield send


@asynccontextmanager
async def _post_source(url: str, track_id: uuid.UUID) -> AsyncIterator[Send]:
    """The baseline's events: frames shaped as ours, timestamped now, POSTed to ``/broadcast``."""
    encode = msgspec.json.Encoder().encode
    async with httpx.AsyncClient(base_url=url, timeout=None) as client:  # _paced's grace bounds it

        async def send(count: int, first: int) -> None:
            now = datetime.now(UTC)
            frames = [encode({"event": "stream", "seq": first + i + 1, "data": {
                "trackId": track_id, "platform": "spotify", "country": "SE" if i % 2 else "US",
                "timestamp": now}}).decode() for i in range(count)]
            response = await client.post("/broadcast", content="\n".join(frames))
            response.raise_for_status()

        yield send
