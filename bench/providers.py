"""Benchmark: the polls/s one process sustains against the local Meta simulator with N ad accounts, through
``MetaClient`` and the ``Pacer`` as a poller uses them, next to a raw httpx loop against the same server.

Usage: .venv/bin/python bench/providers.py [--accounts 10,100,1000] [--seconds S] [--campaigns C]

How: the simulator (``serve_meta_simulator``, hypercorn's trio worker) runs in its own process, so that on a
small machine its CPU is not taken from the loop we measure: in one process the server's work would sit in
the same event loop as the client's and both rows would mostly measure the server. It is configured so that
no quota binds: ``standard_access`` (a score of 9,000 per 300 s and 100,000 ads_management calls per hour
per account) and an app allowance of 10^9 calls per hour. Each row gets a fresh server whose world has exactly
that row's N accounts, with ``--campaigns`` campaigns each (default 1: a light body keeps the server's share of
the machine small, so that the client side, which is what we measure, sets the pace as often as it can).
Each row starts one trio task per account:

* ours: ask the ``Pacer`` (app, score and ads_management domains of the account) when the next call may
  start, sleep until then, ``MetaClient.campaigns`` (request, ``classify``, usage headers, msgspec decode),
  feed the signals back;
* raw: ``httpx.AsyncClient.get`` of the same URL with the same parameters and token, body read, nothing else.

Both use one ``httpx.AsyncClient`` with httpx's default pool (100 connections), so above 100 accounts tasks
queue for a connection in both rows alike (that wait is in the latencies). Each row runs a one-second
un-timed warm-up, then ``--seconds``.

Reading it: polls/s counts calls finished in the window (any status; non-200 answers are listed apart);
p50/p99 are the latencies of those calls, the pacer's waits excluded; "CPU/poll" is this process's CPU time
per poll, the cost that does not depend on how fast the server answers. "ratio" is ours / raw. The server
and this process share the machine's cores, so the server often sets the pace of both rows: compare the
ratios, and the CPU per poll, between runs.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from adapters.meta import APP_DOMAIN, MetaClient, account_domain
from adapters.meta.client import CAMPAIGN_FIELDS
from adapters.meta.simulator import SimulatorConfig, serve_meta_simulator
from bench._server import ServerProcess
from engine.pacing import Pacer
from engine.provider import ProviderError, RateLimitedError

TOKEN = "SIMULATOR_TOKEN"
VERSION = "v25.0"
WARMUP = 1.0
START_TIMEOUT = 120.0
APP_CALLS_PER_HOUR = 1_000_000_000  # the app's hourly allowance must not bind either


# --- the server process -----------------------------------------------------------------------------------


def serve(accounts: int, campaigns: int, ready: Path, *, labels: bool = False) -> int:
    """``python bench/providers.py --serve``: the simulator over HTTP until SIGTERM/SIGINT; writes its URL
    and a line per account (its id, then its campaigns' ids) to ``ready`` once it accepts connections.

    With ``labels`` (the pipeline benchmark's real account actors): every account has its own token
    (``account_token``), USD in UTC, a world whose present is now (an actor asks for today's figures), and
    campaigns that started at most 3 days ago, so an actor's first 28-day sweep sends a few days, not 28."""
    config = SimulatorConfig(tier="standard_access", accounts=accounts, campaigns_per_account=campaigns,
                             app_calls_per_hour=APP_CALLS_PER_HOUR, access_tokens=(TOKEN,))
    if labels:
        config = msgspec.structs.replace(config, account_tokens=True, start=datetime.now(UTC).isoformat(),
                                         history_days=3, profiles=(("USD", "UTC"),),
                                         insights_app_calls_per_s=1_000_000)
    return trio.run(_serve, config, ready)


async def _serve(config: SimulatorConfig, ready: Path) -> int:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            served = await nursery.start(serve_meta_simulator, config)
            world = served.simulator.world
            campaigns: dict[str, list[str]] = {number: [] for number in world.accounts}
            for campaign in world.campaigns.values():
                campaigns[campaign.account_id].append(campaign.id)
            lines = [served.url, *(" ".join([f"act_{number}", *ids]) for number, ids in campaigns.items())]
            partial = trio.Path(ready.with_suffix(".tmp"))
            await partial.write_text("\n".join(lines))
            await partial.rename(ready)  # appears whole
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
    return 0


def start_simulator(accounts: int, campaigns: int, root: Path, *,
                    labels: bool = False) -> tuple[ServerProcess, str, list[list[str]]]:
    """The simulator process with ``accounts`` ad accounts (``serve``); its process, its URL and, for each
    account, its id followed by its campaigns' ids."""
    argv = [sys.executable, __file__, "--serve", "--accounts", str(accounts), "--campaigns", str(campaigns),
            *(["--labels"] if labels else [])]
    server, ready = ServerProcess.launch(argv, root, what="simulator", start_timeout=START_TIMEOUT,
                                         stop_timeout=10.0)
    url, *lines = ready.splitlines()
    return server, url, [line.split() for line in lines]


# --- the two loops ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one phase measured: polls finished, their latencies (s), answers that were not data, CPU (s)."""

    polls: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.polls / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        """The nearest-rank percentile in milliseconds (NaN without a sample)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] * 1000


def _window_for(domain: str) -> float:
    return 300.0 if domain.endswith(":score") else 3600.0


async def _ours(client: MetaClient, pacer: Pacer, act: str, rng: random.Random, deadline: float,
                tally: Tally) -> None:
    domains = (APP_DOMAIN, account_domain(act, "score"), account_domain(act, "ads_management"))
    while True:
        rand = rng.random()
        # A time to sleep until, not an event: we ask again after waking (engine.pacing).
        while (at := pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:  # noqa: ASYNC110
            await trio.sleep_until(at)
        if now >= deadline:
            return
        pacer.record_call(domains, now)
        started = time.perf_counter()
        try:
            result = await client.campaigns(act)
        except RateLimitedError as exc:
            tally.errors[type(exc).__name__] += 1
            pacer.limited(exc, trio.current_time(), sent_at=now)
        except ProviderError as exc:
            tally.errors[type(exc).__name__] += 1
            pacer.observe(exc.signals, trio.current_time(), sent_at=now)
        else:
            pacer.observe(result.signals, trio.current_time(), sent_at=now)
        tally.latencies.append(time.perf_counter() - started)
        tally.polls += 1


async def _raw(http: httpx.AsyncClient, url: str, params: dict[str, str], deadline: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while trio.current_time() < deadline:
        started = time.perf_counter()
        response = await http.get(url, params=params, headers=headers)
        if response.status_code != 200:
            tally.errors[f"HTTP {response.status_code}"] += 1
        tally.latencies.append(time.perf_counter() - started)
        tally.polls += 1


async def _phase(kind: str, url: str, acts: list[str], seconds: float, seed: int) -> Tally:
    params = {"fields": ",".join(CAMPAIGN_FIELDS), "limit": "100"}  # what MetaClient.campaigns sends
    pacer = Pacer(_window_for)
    async with httpx.AsyncClient(timeout=60) as http:
        client = MetaClient(http, TOKEN, base_url=url, version=VERSION)
        result = Tally()
        for measured, length in ((False, WARMUP), (True, seconds)):
            tally = Tally()
            cpu, wall = time.process_time(), time.perf_counter()
            deadline = trio.current_time() + length
            async with trio.open_nursery() as nursery:
                for index, act in enumerate(acts):
                    if kind == "ours":
                        rng = random.Random(seed * 1_000_003 + index)
                        nursery.start_soon(_ours, client, pacer, act, rng, deadline, tally)
                    else:
                        nursery.start_soon(_raw, http, f"{url}/{VERSION}/{act}/campaigns", params, deadline, tally)
            tally.seconds, tally.cpu = time.perf_counter() - wall, time.process_time() - cpu
            if measured:
                result = tally
    return result


# --- the table ------------------------------------------------------------------------------------------------


def _line(label: str, tally: Tally, ratio: str) -> str:
    cpu_ms = 1000 * tally.cpu / tally.polls if tally.polls else math.nan
    return (f"{label:<22}{tally.rate:>9,.0f}{tally.percentile_ms(50):>9,.1f}{tally.percentile_ms(99):>9,.1f}"
            f"{cpu_ms:>12,.2f}{tally.polls:>9,}{ratio:>8}")


def measure(rows: list[int], seconds: float, campaigns: int, root: Path) -> None:
    load_before = os.getloadavg()[0]
    print(f"Meta simulator (standard_access, no quota binds) in its own process, a fresh one per row with that "
          f"row's accounts x {campaigns} campaign(s).\n"
          f"{os.cpu_count()} CPUs, SHARED by the simulator and this process. One task per account, one "
          f"httpx.AsyncClient (100 connections)\n  per row; {WARMUP:g} s warm-up + {seconds:g} s measured. "
          f"The call: GET /{VERSION}/act_<id>/campaigns with MetaClient's fields.\n")
    print(f"{'accounts / path':<22}{'polls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU/poll ms':>12}{'n':>9}"
          f"{'ratio':>8}", flush=True)
    errors: list[str] = []
    for n in rows:
        server, url, accounts = start_simulator(n, campaigns, root)
        acts = [account[0] for account in accounts]
        try:
            ours = trio.run(_phase, "ours", url, acts, seconds, n)
            raw = trio.run(_phase, "raw", url, acts, seconds, n)
        finally:
            if (code := server.stop()) != 0:
                print(f"the simulator exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)
        ratio = f"{ours.rate / raw.rate:.2f}" if raw.rate else "-"
        print(_line(f"{n:,} ours", ours, ratio))
        print(_line(f"{n:,} raw httpx", raw, ""), flush=True)
        errors += [f"{n} ours: {dict(ours.errors)}"] * bool(ours.errors)
        errors += [f"{n} raw: {dict(raw.errors)}"] * bool(raw.errors)
    print("\nratio: ours polls/s / raw polls/s. CPU/poll: this process only (the server's is not counted).\n"
          "p50/p99 include the wait for one of httpx's 100 connections when there are more accounts than that.")
    print("answers that were not data: " + ("; ".join(errors) or "none"))
    print(f"load average (1 min) before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} "
          "(other work on the machine lowers every figure)")


def _counts(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1 or max(values) > 20_000:
        raise argparse.ArgumentTypeError("a comma-separated list of account counts from 1 to 20,000")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=_counts, default=[10, 100, 1000],
                        help="comma-separated account counts, one row each (default 10,100,1000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row and path (default 5)")
    parser.add_argument("--campaigns", type=int, default=1, help="campaigns per account, listed by each poll "
                        "(default 1)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--labels", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.accounts[0], args.campaigns, args.ready, labels=args.labels))
    root = Path(tempfile.mkdtemp(prefix="songtrack-bench-providers-"))
    started = time.monotonic()
    try:
        measure(args.accounts, args.seconds, args.campaigns, root)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        sys.exit(130)
    finally:
        for path in root.iterdir():
            path.unlink()
        root.rmdir()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
