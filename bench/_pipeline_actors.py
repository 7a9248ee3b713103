"""The actors half of the pipeline benchmark: how many account actors one process holds polling the Meta
simulator, with their scheduling lag and the process's RSS, next to the same number of bare sleepers.

What an "actor" is here (not a ``MetaAccountActor``: 10k of those need 10k integrations, tokens and linked
campaigns in the database and a first cycle of three calls each, more than this machine does in a bench
phase): a trio task per account that plans its next poll every ``interval`` seconds (a random phase each),
``trio.sleep_until``s it, then asks the shared ``Pacer`` (``meta_window``, the app, score and ads_management
domains of its account, as ``MetaAccountActor._call`` does) and makes one ``MetaClient.campaigns`` call
through one shared httpx.AsyncClient. The "bare" baseline is the same tasks with the same plan and no Pacer
and no HTTP: trio's own lag with N sleepers. Each row runs in a fresh child process, so RSS is its own.

Lag is how late a task woke versus the time it planned (``trio.current_time() - planned``); every plan falls
inside the measured window. Polls begun in the window get DRAIN seconds more; those still unanswered then
are counted (a saturated process), and the row stops.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import trio

from adapters.meta import APP_DOMAIN, MetaClient, account_domain, meta_window
from engine.pacing import Pacer
from engine.provider import ProviderError, RateLimitedError

__all__ = ["ActorsRow", "client_cost", "row_in_child", "run_row"]

TOKEN = "SIMULATOR_TOKEN"  # bench/providers.py's simulator issues it
VERSION = "v25.0"
SETTLE = 0.5  # seconds between spawning the last task and the window's start
DRAIN = 5.0  # seconds after the window that polls begun in it may take before we stop the row


@dataclass
class ActorsRow:
    actors: int
    kind: str
    wakes: int = 0
    polls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    spawn_s: float = 0.0
    unfinished: int = 0  # polls begun in the window and not answered DRAIN seconds after it


def rss_mb() -> float:
    """This process's resident set now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _actor(row: ActorsRow, client: MetaClient | None, pacer: Pacer, act: str, rng: random.Random,
                 planned: float, interval: float, window: tuple[float, float]) -> None:
    domains = (APP_DOMAIN, account_domain(act, "score"), account_domain(act, "ads_management"))
    while planned < window[1]:
        await trio.sleep_until(planned)
        row.lags.append(trio.current_time() - planned)  # every plan starts inside the window
        row.wakes += 1
        if client is not None:
            await _poll(row, client, pacer, act, domains, rng)
        planned += interval


async def _poll(row: ActorsRow, client: MetaClient, pacer: Pacer, act: str, domains: tuple[str, ...],
                rng: random.Random) -> None:
    rand = rng.random()
    # A time to sleep until, not an event: we ask again after waking (engine.pacing).
    while (at := pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:  # noqa: ASYNC110
        await trio.sleep_until(at)
    pacer.record_call(domains, now)
    try:
        result = await client.campaigns(act)
    except RateLimitedError as exc:
        row.errors[type(exc).__name__] = row.errors.get(type(exc).__name__, 0) + 1
        pacer.limited(exc, trio.current_time(), sent_at=now)
    except ProviderError as exc:
        row.errors[type(exc).__name__] = row.errors.get(type(exc).__name__, 0) + 1
        pacer.observe(exc.signals, trio.current_time(), sent_at=now)
    else:
        pacer.observe(result.signals, trio.current_time(), sent_at=now)
        row.polls += 1


async def _sample_rss(row: ActorsRow, until: float) -> None:
    while trio.current_time() < until:
        row.rss_peak_mb = max(row.rss_peak_mb, rss_mb())
        await trio.sleep(0.2)


async def run_row(actors: int, kind: str, url: str, acts: list[str], seconds: float, interval: float) -> ActorsRow:
    """One row: ``actors`` tasks of ``kind`` ("ours" or "bare"), SETTLE s, then ``seconds`` measured."""
    row = ActorsRow(actors, kind, rss_before_mb=rss_mb())
    pacer = Pacer(meta_window)
    async with httpx.AsyncClient(timeout=30) as http:
        client = MetaClient(http, TOKEN, base_url=url, version=VERSION) if kind == "ours" else None
        async with trio.open_nursery() as nursery:
            spawn = time.perf_counter()
            start = trio.current_time() + SETTLE + actors * 20e-6  # spawning takes ~10 us a task
            window = (start, start + seconds)
            nursery.start_soon(_sample_rss, row, window[1])
            for index in range(actors):
                rng = random.Random(index)
                nursery.start_soon(_actor, row, client, pacer, acts[index % len(acts)], rng,
                                   start + rng.uniform(0, interval), interval, window)
            row.spawn_s = time.perf_counter() - spawn
            # A saturated process would finish its backlog of polls for minutes: we stop it after DRAIN.
            nursery.cancel_scope.deadline = window[1] + DRAIN
    if kind == "ours":
        row.unfinished = row.wakes - row.polls - sum(row.errors.values())
    return row


def row_in_child(actors: int, kind: str, url: str, acts_file: Path, seconds: float, interval: float) -> ActorsRow:
    """``run_row`` in a fresh ``bench/pipeline.py`` process, so that each row's RSS is its own."""
    argv = [sys.executable, str(Path(__file__).with_name("pipeline.py")), "--row", str(actors), "--row-kind", kind,
            "--row-url", url, "--row-accounts", str(acts_file), "--seconds", str(seconds),
            "--poll-interval", str(interval)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + DRAIN + 120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the actors row {actors} {kind} failed:\n{done.stderr[-3000:]}")
    return ActorsRow(**json.loads(done.stdout.splitlines()[-1]))


def child_main(actors: int, kind: str, url: str, acts_file: Path, seconds: float, interval: float) -> None:
    acts = acts_file.read_text().split()
    row = trio.run(run_row, actors, kind, url, acts, seconds, interval)
    print(json.dumps(asdict(row)))


def client_cost(count: int = 100) -> tuple[float, float]:
    """Milliseconds and MB per ``httpx.AsyncClient()`` made and kept, as the runtime's default
    ``http_factory`` gives every MetaAccountActor its own (measured here over ``count`` clients)."""
    before, started = rss_mb(), time.perf_counter()
    clients = [httpx.AsyncClient() for _ in range(count)]
    elapsed, grown = time.perf_counter() - started, rss_mb() - before
    del clients
    return 1000 * elapsed / count, grown / count
