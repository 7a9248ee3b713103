"""One engine process of the pipeline benchmark's real-actor rows: the engine's account part as
``songtrack/runtime.py`` wires it (``_run_engine``), against the benchmark's database and Meta simulator.

Usage (by bench/_pipeline_real.py, never by hand): .venv/bin/python bench/_pipeline_engine.py --dsn DSN
    --url SIMULATOR_URL --key HEX --interval I [--ttl T --renew R]

It registers itself (``register_node``), then runs under one root ``Supervisor``: the ``StatusPublisher``
(the heartbeat other processes count), the real ``Aggregator`` the samples go to, and the real
``AccountsSupervisor`` with the real ``meta_kind`` (``MetaAccountActor``s over one shared httpx client, one
shared ``Pacer``) and a real ``LeaseKeeper``. The only difference from production is the schedule: the kind
is built with ``MetaSchedule(interval=I)`` (the kind's own argument; the product default is 900 s). Left out:
the rule evaluator, the dispatcher, the stream counter, the daily reporter and the housekeeper (no rules,
endpoints or listens here).

Every second it prints one JSON line (``Report``): what it holds and runs, how many actors have finished a
cycle, its RSS, the buckets of ``songtrack_poll_lag_seconds`` (``engine.metrics.poll_began``: how late
each poll began after it was due), and the garbage collector's full collections (how many, the longest).
SIGTERM stops it gracefully (its leases are released).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import msgspec
import trio
from prometheus_client import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from actors.accounts import AccountsSupervisor
from actors.aggregator import Aggregator
from actors.http import lend, shared_client
from actors.lease_keeper import LeaseKeeper
from actors.meta_account import meta_kind
from actors.meta_schedule import MetaSchedule
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from bench._pipeline_actors import rss_mb
from config import Keys
from config.sections import AlertsSettings, MetaSettings
from engine.lease_plan import LeaseTimings
from engine.pacing import Pacer
from engine.publisher import StatusPublisher
from engine.registry import ActorState, Registry
from engine.store import open_database
from engine.store.database import Database
from engine.store.nodes import register_node
from engine.supervisor import ChildSpec, Supervisor

__all__ = ["Report"]

_LAG = "songtrack_poll_lag_seconds"


class Report(msgspec.Struct, kw_only=True):
    """One line of an engine process's output. ``lag`` is the cumulative bucket counts of its Meta actors'
    poll lag, ``[upper bound (s), count]`` each, without the last (``+Inf``): that one is ``polls``."""

    node: str
    pid: int
    at: float  # time.time()
    rss_before_mb: float  # before the first actor started
    rss_mb: float
    held: int  # leases
    running: int  # account actors started and not ended
    polled: int  # of those, the ones seen resting after a cycle (their detail's state "waiting" or "parked")
    failing: int  # of those, the ones whose last call failed
    samples: int  # written by the aggregator
    polls: int  # begun since the start
    lag: list[tuple[float, float]]
    gc_full: int = 0  # full collections of the cyclic garbage collector since the start
    gc_longest_ms: float = 0.0  # the longest of them since the previous report


class _FullCollections:
    """Counts and times the garbage collector's full (generation 2) collections (a ``gc.callbacks`` entry):
    each one stops every task of the process while it walks every object."""

    def __init__(self) -> None:
        self.count, self.longest_ms, self._began = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count += 1
            self.longest_ms = max(self.longest_ms, 1000 * (time.perf_counter() - self._began))

    def take_longest(self) -> float:
        longest, self.longest_ms = self.longest_ms, 0.0
        return longest


def lag_buckets(kind: str = "meta") -> list[tuple[float, float]]:
    """The cumulative buckets of this process's ``songtrack_poll_lag_seconds`` for ``kind``, ``+Inf``
    last (empty before the first poll)."""
    buckets = []
    for family in REGISTRY.collect():
        if family.name == _LAG:
            buckets = [(float(s.labels["le"]), s.value) for s in family.samples
                       if s.name == f"{_LAG}_bucket" and s.labels.get("kind") == kind]
    return sorted(buckets)


class _Engine:
    def __init__(self, db: Database, args: argparse.Namespace, node_id: uuid.UUID) -> None:
        self.registry = Registry()
        self.node_id = node_id
        self.aggregator = Aggregator(db, AlertsSettings())
        self.samples = self.aggregator.sender()
        self.http = shared_client()
        keys = Keys(jwt_signing_key=os.urandom(32), token_encryption_key=bytes.fromhex(args.key))
        kind = meta_kind(db, keys, self.registry, self.samples, lend(self.http),
                         meta_ads(MetaSettings(graph_url=args.url)), pacer=Pacer(meta_window),
                         schedule=MetaSchedule(interval=args.interval))
        self.keeper = LeaseKeeper(db, node_id, LeaseTimings(ttl=args.ttl, renew_every=args.renew))
        self.accounts = AccountsSupervisor(db, registry=self.registry, kinds=[kind], keeper=self.keeper)
        publisher = StatusPublisher(db, self.registry, node_id)
        self.root = Supervisor("root", self.registry, children=[
            ChildSpec("status-publisher", publisher.run, stop=publisher.stop),
            self.aggregator.child_spec(),
            ChildSpec("accounts", self.accounts.run, stop=self._stop_accounts),
        ])
        self._rested: set[str] = set()  # seen resting after a cycle
        self.collections = _FullCollections()
        gc.callbacks.append(self.collections)

    def _stop_accounts(self) -> None:
        self.accounts.stop()
        self.samples.close()

    def report(self, rss_before: float) -> Report:
        running = polled = failing = 0
        children = self.accounts.children
        self._rested.intersection_update(children)  # a lease given up and claimed again starts afresh
        for name in children:
            status = self.registry.get(name)
            if status is None or status.state != ActorState.RUNNING:
                self._rested.discard(name)
                continue
            running += 1
            detail = status.detail or {}
            if detail.get("state") in ("waiting", "parked"):
                self._rested.add(name)
            polled += name in self._rested
            failing += detail.get("last_error") is not None
        *lag, (_, polls) = lag_buckets() or [(math.inf, 0.0)]
        return Report(node=str(self.node_id), pid=os.getpid(), at=time.time(), rss_before_mb=rss_before,
                      rss_mb=rss_mb(), held=len(self.keeper.held), running=running, polled=polled,
                      failing=failing, samples=self.aggregator.samples_written, polls=int(polls), lag=lag,
                      gc_full=self.collections.count, gc_longest_ms=self.collections.take_longest())


async def _report_every_second(engine: _Engine, rss_before: float) -> None:
    encoder = msgspec.json.Encoder()
    while True:
        sys.stdout.buffer.write(encoder.encode(engine.report(rss_before)) + b"\n")
        sys.stdout.flush()
        await trio.sleep(1.0)


async def _main(args: argparse.Namespace) -> None:
    async with open_database(args.dsn, min_size=2, max_size=10) as db:
        engine = _Engine(db, args, await register_node(db))
        rss_before = rss_mb()
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with engine.http, trio.open_nursery() as reporting:
                reporting.start_soon(_report_every_second, engine, rss_before)
                async with trio.open_nursery() as running:
                    await running.start(engine.root.run)
                    async for _ in signals:
                        break
                    running.cancel_scope.deadline = trio.current_time() + 30  # the shutdown grace
                    engine.root.stop()
                reporting.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--url", required=True, help="the Meta simulator's Graph root")
    parser.add_argument("--key", required=True, help="the token encryption key, in hex")
    parser.add_argument("--interval", type=float, required=True, help="seconds between an actor's polls")
    parser.add_argument("--ttl", type=float, default=LeaseTimings.ttl)
    parser.add_argument("--renew", type=float, default=LeaseTimings.renew_every)
    trio.run(_main, parser.parse_args())


if __name__ == "__main__":
    main()
