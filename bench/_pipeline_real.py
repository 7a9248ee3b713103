"""The real-actor rows of the pipeline benchmark, from the parent's side: labels set up in bulk
(bench/_pipeline_labels.py), engine processes started (bench/_pipeline_engine.py, one JSON ``Report`` a
second each), and what their reports say over a window: polls begun, the poll lag's p50/p99 (interpolated
in ``songtrack_poll_lag_seconds``'s buckets, as PromQL's ``histogram_quantile`` does), RSS.

A row waits until every account's actor has finished its first cycle (they all begin at once: a herd of
``ad_accounts``, a 28-day insights sweep and a campaigns call each, whose length we report), then measures a
window of ``max(S, I)`` seconds: at least one poll interval, so every account polls once more in it.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import trio

from adapters.meta.simulator.config import account_token
from bench._pipeline_engine import Report
from bench._pipeline_labels import add_labels
from engine.store import apply_migrations, open_database

__all__ = ["EngineProcess", "Labels", "RealRow", "Window", "lag_quantile", "real_row", "wait_until"]

START_TIMEOUT = 900.0  # seconds for every actor's first cycle: 20,000 of them take minutes on 2 cores
_decode = msgspec.json.Decoder(Report)


@dataclass
class Labels:
    """The labels set up so far in the database at ``dsn``, for the simulator's ``accounts`` (each an ad
    account id and its campaigns' ids); ``key`` seals their tokens."""

    dsn: str
    accounts: list[list[str]]
    key: bytes
    count: int = 0

    def top_up(self, wanted: int) -> float:
        """Labels up to ``wanted`` (label n uses ad account n); returns the seconds the new ones took."""
        if wanted <= self.count:
            return 0.0
        rows = [(act, account_token(act.removeprefix("act_")), campaigns[0])
                for act, *campaigns in self.accounts[self.count:wanted]]

        async def add() -> float:
            async with open_database(self.dsn, min_size=1, max_size=2) as db:
                await apply_migrations(db)  # applied already, unless figures 1-3 were skipped
                return await add_labels(db, self.key, rows, self.count + 1)

        seconds = trio.run(add)
        self.count = wanted
        return seconds


class EngineProcess:
    """A bench/_pipeline_engine.py process; its reports go to ``out`` (one JSON line a second)."""

    def __init__(self, argv: list[str], out: Path) -> None:
        self.out = out
        with out.open("wb") as file:
            self.process = subprocess.Popen(argv, stdout=file, stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def start(cls, labels: Labels, url: str, interval: float, root: Path, name: str,
              ttl: float | None = None, renew: float | None = None) -> EngineProcess:
        argv = [sys.executable, str(Path(__file__).with_name("_pipeline_engine.py")), "--dsn", labels.dsn,
                "--url", url, "--key", labels.key.hex(), "--interval", str(interval)]
        argv += ["--ttl", str(ttl), "--renew", str(renew)] if ttl is not None and renew is not None else []
        return cls(argv, root / f"{name}.jsonl")

    def reports(self) -> list[Report]:
        *lines, _partial = self.out.read_bytes().split(b"\n")  # the last line may be half written
        return [_decode.decode(line) for line in lines if line.startswith(b"{")]

    def last(self) -> Report | None:
        if self.process.poll() is not None:
            tail = self.out.read_text(errors="replace")[-3000:]
            raise SystemExit(f"an engine process exited with {self.process.returncode}:\n{tail}")
        reports = self.reports()
        return reports[-1] if reports else None

    def stop(self) -> None:
        """SIGTERM (a graceful stop: its leases are released), SIGKILL after 60 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def wait_until(engines: list[EngineProcess], done: Callable[[list[Report]], bool], timeout: float) -> float:
    """Seconds until ``done`` holds of the engines' last reports; exits when ``timeout`` passes first."""
    started = time.monotonic()
    while True:
        reports = [engine.last() for engine in engines]
        if all(r is not None for r in reports) and done([r for r in reports if r is not None]):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the engine processes did not get there in {timeout:g} s: {reports}")
        time.sleep(0.25)


@dataclass(frozen=True)
class Window:
    """What one engine process did between two of its reports."""

    first: Report
    last: Report
    rss_peak_mb: float
    gc_longest_ms: float  # the longest full collection of the cyclic garbage collector

    @property
    def gc_full(self) -> int:
        """Full collections of the cyclic garbage collector: they stop every actor while they run."""
        return self.last.gc_full - self.first.gc_full

    @property
    def seconds(self) -> float:
        return self.last.at - self.first.at

    @property
    def polls(self) -> int:
        return self.last.polls - self.first.polls

    def lag_ms(self, q: float) -> float:
        before = dict(self.first.lag)
        diff = [(le, count - before.get(le, 0.0)) for le, count in self.last.lag]
        return 1000 * lag_quantile([*diff, (math.inf, float(self.polls))], q)

    @classmethod
    def over(cls, engines: list[EngineProcess], seconds: float) -> list[Window]:
        """The engines' windows of ``seconds`` from now (their last reports before and after)."""
        firsts = [engine.last() for engine in engines]
        time.sleep(seconds)
        windows = []
        for engine, first in zip(engines, firsts, strict=True):
            assert first is not None  # wait_until saw a report of each
            reports = [r for r in engine.reports() if r.at >= first.at]
            windows.append(cls(first, reports[-1], max(r.rss_mb for r in reports),
                               max(r.gc_longest_ms for r in reports[1:] or reports)))
        return windows


def lag_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The ``q`` quantile (0..1) of a cumulative histogram, interpolated linearly inside its bucket as
    PromQL's ``histogram_quantile`` does (the bucket's upper bound when it is the last, ``+Inf``)."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below) if count > below else upper
        lower, below = upper, count
    return lower


@dataclass(frozen=True)
class RealRow:
    actors: int
    setup_s: float  # the labels' rows, in bulk
    first_cycle_s: float  # from the engine's start until every actor finished its first cycle
    window: Window

    @property
    def grown_mb(self) -> float:
        return self.window.rss_peak_mb - self.window.first.rss_before_mb


def real_row(labels: Labels, url: str, actors: int, seconds: float, interval: float, root: Path) -> RealRow:
    """``actors`` real Meta account actors in one engine process, measured over ``max(seconds, interval)``."""
    setup = labels.top_up(actors)
    engine = EngineProcess.start(labels, url, interval, root, f"engine-{actors}")
    try:
        first_cycle = wait_until([engine], lambda r: r[0].polled >= actors, START_TIMEOUT)
        [window] = Window.over([engine], max(seconds, interval))
    finally:
        engine.stop()
    return RealRow(actors, setup, first_cycle, window)
