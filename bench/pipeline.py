"""Benchmark: the pipeline from account actors to signed webhooks, each figure next to a baseline measured in
the same run: samples/s through the aggregator (vs a raw INSERT of the same rows), signed deliveries/s (vs a
raw httpx POST loop to the same receiver), the latency from a sample to its webhook (vs one raw POST), the
account actors one process holds polling the Meta simulator (stand-ins vs as many bare sleeping tasks, and
real ``MetaAccountActor``s next to them), and several engine processes sharing the real accounts.

Usage: .venv/bin/python bench/pipeline.py [--seconds S] [--dsn DSN] [--actors 1000,10000,20000]
       [--events N] [--concurrency C] [--poll-interval I] [--processes 2,3] [--skip-db] [--skip-actors]
       [--skip-samples] [--real-only] [--fleet-only]

How: without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations; with it,
the migrations are applied to that database and our rows (organizations named "Bench ...") are left there.

1. samples/s: 100 campaigns with 10 rules each (budget.warning at 25/50/80/100 %, pacing, three goals,
   completed, metrics.updated); one producer keeps the ``Aggregator``'s inbox full of changing samples
   (28 days x 4 metrics, growing values) for S seconds after a 0.5 s warm-up. Counted: samples committed
   (facts upserted, totals recomputed, rules evaluated, alerts, notifications and outbox events written).
   Baseline: the same rows, 4,096 per transaction (the aggregator's largest batch), one unnest INSERT into an
   index-free copy of the facts table, through our ``Database``.
2. deliveries/s: in each of 3 rounds, N/3 events enqueued (untimed) for one endpoint on a local receiver
   (hypercorn, in a process of its own, bench/_pipeline_receiver.py, that counts what arrives; both rows
   post to it), then a ``WebhookDispatcher`` (signing, SSRF guard, claims, attempt log) is started and we
   count what the receiver gets until all N/3 arrived or S/3 seconds passed. The endpoint's max_in_flight is
   C. Baseline, after each round of ours (alternating, so that passing load on a shared machine falls on
   both): C tasks POSTing an unsigned envelope back to back with one httpx.AsyncClient, S/3 seconds.
   Under the row: this process's CPU time per delivery and per POST (the receiver's is not in it).
3. latency: aggregator and dispatcher running; one sample every 50 ms, each to a fresh campaign, each
   crossing its 25 % budget threshold, so each fires one budget.warning for an endpoint that subscribes to
   that type only. Timed: from handing the sample to the aggregator's inbox to the receiver reading the
   webhook. Baseline: one unsigned POST's round trip to the same receiver, at the same pace.
4. actors: see bench/_pipeline_actors.py for what the actors are (paced MetaClient calls against the
   simulator in its own process, not MetaAccountActors) and what the bare baseline is. Each actor polls
   every I seconds (default 300: 10k actors make 33 calls/s; MetaSchedule's 900 s and two calls a cycle
   make 22), so the window holds about N * S / I wake-ups: a lower I gives p99 more samples and more load.
   Under each N's two stand-in rows, "N real": N real Meta account actors in one engine process of their
   own (bench/_pipeline_engine.py: the root's StatusPublisher, Aggregator and AccountsSupervisor with
   ``meta_kind`` and a LeaseKeeper, wired as songtrack/runtime.py does), polling every I seconds too
   (``MetaSchedule(interval=I)``, the kind's own argument). Each account is a label of its own set up in
   bulk (bench/_pipeline_labels.py: an organization, a connected integration with its sealed token, an
   active campaign linked to the Meta campaign of its own simulated ad account, whose own token lists it
   alone). All N actors begin at once with a first cycle (ad accounts, a 28-day insights sweep, statuses):
   the row waits until every one finished it ("first cycle done"), then measures max(S, I) seconds, so
   every account polls once more in it. polls/s is measured (the stand-ins' column is N / I); lag is how
   late each poll began after it was due (``songtrack_poll_lag_seconds``, p50/p99 interpolated in its
   buckets); RSS is the engine process's, +MB over its RSS before the first actor started. "p99 ratio" is
   over the bare row's p99.
5. engine processes: for each P in --processes (default 2,3), P engine processes as above sharing the
   largest N's real accounts through their leases (TTL 6 s, renewed every 2 s: bench/_pipeline_fleet.py),
   measured over max(S, I) seconds once every account is held at a fair share and polled: per process,
   leases held, polls/s and lag; lease renewals/s (PostgreSQL's count of updates of engine_leases); then
   one process is killed (SIGKILL): the seconds until the survivors hold every lease, and until each of
   the killed process's accounts was polled again.

Everything shares this machine's cores with PostgreSQL, the receiver (its own process) and the simulator:
compare the ratios between runs more than the absolute figures.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench import _pipeline_flow as flow
from bench._args import count_list
from bench._pipeline_actors import DRAIN, ActorsRow, child_main, client_cost, row_in_child
from bench._pipeline_fleet import FLEET_RENEW, FLEET_TTL, fleet_row
from bench._pipeline_real import Labels, RealRow, real_row
from bench._pipeline_receiver import Receiver, start_receiver
from bench._scratch import Scratch, scratch
from engine.heap import settle_heap
from engine.store import apply_migrations, open_database
from engine.store.database import Database

CAMPAIGNS = 100
DELIVERY_ROUNDS = 3
SIMULATOR_MAX_ACCOUNTS = 20_000  # SimulatorConfig.accounts allows no more


def _line(label: str, ours: str, baseline: str, ratio: str = "") -> None:
    print(f"{label:<44}{ours:>16}{baseline:>18}{ratio:>8}", flush=True)


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.3f}" if baseline and not math.isnan(baseline) else "-"


async def _flow(dsn: str, root: Path, args: argparse.Namespace) -> None:
    async with open_database(dsn, min_size=2, max_size=8) as db:
        await apply_migrations(db)
        settle_heap()  # as an engine process does once it serves; our baselines run in this process too
        print(f"PostgreSQL {await db.fetchval('SHOW server_version')}, {os.cpu_count()} CPUs, "
              f"{args.seconds:g} s per measurement\n")
        _line("figure", "ours", "baseline", "ratio")
        if not args.skip_samples:
            await _samples_row(db, args)
        receiver = await trio.to_thread.run_sync(start_receiver, root)  # its own process
        try:
            await _delivery_rows(db, flow.keygen(), receiver, args)
        finally:
            if (code := receiver.stop()) != 0:
                print(f"the receiver exited with {code}; its log ends:\n{receiver.tail()}", file=sys.stderr)


async def _samples_row(db: Database, args: argparse.Namespace) -> None:
    org = await flow.new_organization(db, "Bench aggregator")
    campaigns = await flow.new_campaigns(db, org, CAMPAIGNS, budget=1000, started_days_ago=10, days=30, goals=50_000)
    ours = await flow.through_aggregator(db, flow.sample_stream(org, campaigns), args.seconds)
    raw = await flow.raw_inserts(db, flow.sample_stream(org, campaigns), args.seconds)
    _line("1. samples/s through the aggregator", f"{ours.per_second:,.0f}", f"{raw.per_second:,.0f}",
          _ratio(ours.per_second, raw.per_second))
    print(f"   {CAMPAIGNS} campaigns x 10 rules ({flow.RULES}); {ours.count:,} samples measured, "
          f"{ours.note}; baseline: raw INSERT of the same rows, {flow.BATCH} per transaction")


async def _delivery_rows(db: Database, key: bytes, receiver: Receiver, args: argparse.Namespace) -> None:
    ours = raw = flow.Rate(0, 0.0)
    for _ in range(DELIVERY_ROUNDS):  # alternating, so that passing load on a shared machine falls on both
        ours += await flow.deliveries(db, key, receiver, args.events // DELIVERY_ROUNDS,
                                      args.seconds / DELIVERY_ROUNDS, args.concurrency)
        raw += await flow.raw_posts(receiver, args.seconds / DELIVERY_ROUNDS, args.concurrency)
    _line("2. signed deliveries/s to a local receiver", f"{ours.per_second:,.0f}", f"{raw.per_second:,.0f}",
          _ratio(ours.per_second, raw.per_second))
    enqueued = args.events // DELIVERY_ROUNDS * DELIVERY_ROUNDS
    print(f"   {ours.count:,} delivered in {ours.seconds:.2f} s ({ours.settled:,} of {enqueued:,} recorded as "
          f"succeeded); endpoint max_in_flight {args.concurrency}; baseline: {args.concurrency} tasks, raw httpx "
          f"POST, unsigned; {DELIVERY_ROUNDS} rounds of each, alternating\n"
          f"   CPU of this process: {ours.cpu_us:,.0f} us per delivery, {raw.cpu_us:,.0f} us per raw POST")
    latencies = await flow.latency(db, key, receiver, args.seconds, args.concurrency)
    baseline = await flow.raw_post_latency(receiver, len(latencies) or 20)
    for p in (50, 99):
        mine, base = flow.percentile_ms(latencies, p), flow.percentile_ms(baseline, p)
        _line(f"3. sample -> webhook latency p{p} (ms)", f"{mine:,.1f}", f"{base:,.1f}", _ratio(mine, base))
    expected = max(20, int(args.seconds * flow.LATENCY_RATE))
    print(f"   {len(latencies)} of {expected} samples' webhooks arrived; baseline: one raw POST round trip\n",
          flush=True)


def _actors(args: argparse.Namespace, run: Scratch) -> None:
    from bench.providers import start_simulator  # the simulator process providers.py already runs

    per_client_ms, per_client_mb = client_cost()
    accounts = min(max(args.actors), SIMULATOR_MAX_ACCOUNTS)
    server, url, listed = start_simulator(accounts, 1, run.root, labels=True)
    acts_file = run.root / "accounts.txt"
    acts_file.write_text("\n".join(account[0] for account in listed))
    labels = Labels(run.dsn(), listed, flow.keygen())
    if not args.fleet_only:
        print(f"4. account actors polling the Meta simulator (standard_access, {accounts:,} accounts, own process); "
              f"each actor polls every {args.poll_interval:g} s\n   (random phase), {args.seconds:g} s measured, "
              f"each row in a fresh process. lag = woke - planned, over the wakes in the window.")
        print(f"   {'actors / kind':<20}{'polls/s':>8}{'wakes':>8}{'polls':>8}{'lag p50 ms':>12}{'lag p99 ms':>12}"
              f"{'RSS MB':>9}{'+MB':>8}{'KB/actor':>10}{'p99 ratio':>11}", flush=True)
    try:
        for n in [] if args.fleet_only else args.actors:
            bare_p99 = math.nan if args.real_only else _stand_in_rows(args, n, url, acts_file)
            if n <= accounts:
                print(_real_line(real_row(labels, url, n, args.seconds, args.poll_interval, run.root), bare_p99),
                      flush=True)
        if not args.real_only:
            _fleet(args, labels, url, run.root, accounts)
    finally:
        if (code := server.stop()) != 0:
            print(f"the simulator exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)
    print(f"   ours: Pacer + MetaClient.campaigns over one shared httpx.AsyncClient; bare: the same wake-ups, no "
          f"work. Above {SIMULATOR_MAX_ACCOUNTS:,}\n   actors, accounts are shared (the simulator's maximum). "
          f"The runtime shares one httpx.AsyncClient among its\n   MetaAccountActors (actors/http.py), as the real "
          f"rows do; one per actor would cost {per_client_ms:.1f} ms and {per_client_mb:.2f} MB each.")


def _stand_in_rows(args: argparse.Namespace, n: int, url: str, acts_file: Path) -> float:
    """Print the stand-in and bare rows of ``n`` actors; return the bare row's p99 (ms)."""
    rows = [row_in_child(n, kind, url, acts_file, args.seconds, args.poll_interval) for kind in ("ours", "bare")]
    bare_p99 = flow.percentile_ms(rows[1].lags, 99)
    p99_ratio = _ratio(flow.percentile_ms(rows[0].lags, 99), bare_p99)
    for row in rows:
        print(_actors_line(row, n / args.poll_interval, p99_ratio if row.kind == "ours" else ""), flush=True)
    return bare_p99


def _real_line(row: RealRow, bare_p99: float) -> str:
    window = row.window
    p99 = window.lag_ms(0.99)
    return (f"   {f'{row.actors:,} real':<20}{window.polls / window.seconds:>8,.1f}{window.polls:>8,}{'-':>8}"
            f"{window.lag_ms(0.5):>12,.2f}{p99:>12,.2f}{window.rss_peak_mb:>9,.0f}{row.grown_mb:>8,.0f}"
            f"{1024 * row.grown_mb / row.actors:>10,.1f}{_ratio(p99, bare_p99):>11}\n"
            f"      real: {window.last.running:,} running; rows set up in {row.setup_s:.1f} s; every first cycle done "
            f"{row.first_cycle_s:.1f} s after the start; {window.seconds:.0f} s measured; "
            f"{window.last.samples - window.first.samples:,} samples written; {window.last.failing:,} failing; "
            f"{window.gc_full} full garbage collections, the longest {window.gc_longest_ms:,.0f} ms")


def _fleet(args: argparse.Namespace, labels: Labels, url: str, root: Path, accounts: int) -> None:
    if not args.processes:
        return
    labels.top_up(accounts)
    window = max(args.seconds, args.poll_interval)
    print(f"5. engine processes sharing {accounts:,} real accounts (leases: TTL {FLEET_TTL:g} s, renewed every "
          f"{FLEET_RENEW:g} s), measured over {window:g} s, then one of them killed (SIGKILL)", flush=True)
    for processes in args.processes:
        row = fleet_row(labels, url, processes, args.seconds, args.poll_interval, root)
        print(f"   {processes} processes: every account held at a fair share and polled {row.settle_s:.1f} s after "
              f"the start; lease renewals {row.renewals:,.0f}/s\n   kill -9 of one holding {row.killed_held:,}: "
              f"every lease held again after {row.claimed_s:.1f} s, every account polled again after "
              f"{row.covered_s:.1f} s", flush=True)
        for n, w in enumerate(row.windows, 1):
            print(f"      process {n}: {w.last.held:,} held, {w.polls / w.seconds:,.1f} polls/s, lag p50 "
                  f"{w.lag_ms(0.5):,.2f} ms, p99 {w.lag_ms(0.99):,.2f} ms, RSS {w.rss_peak_mb:,.0f} MB", flush=True)


def _actors_line(row: ActorsRow, demand: float, ratio: str) -> str:
    grown = row.rss_peak_mb - row.rss_before_mb
    line = (f"   {f'{row.actors:,} {row.kind}':<20}{demand:>8,.0f}{row.wakes:>8,}{row.polls:>8,}"
            f"{flow.percentile_ms(row.lags, 50):>12,.2f}{flow.percentile_ms(row.lags, 99):>12,.2f}"
            f"{row.rss_peak_mb:>9,.0f}{grown:>8,.0f}{1024 * grown / row.actors:>10,.1f}{ratio:>11}")
    if row.errors:
        line += f"  errors {row.errors}"
    if row.unfinished:
        line += f"  {row.unfinished:,} polls unanswered {DRAIN:g} s after the window"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per phase (default 3)")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    parser.add_argument("--actors", type=count_list("actor", "1000,10000,20000"),
                        default=[1000, 10000], help="actor counts (default 1000,10000)")
    parser.add_argument("--events", type=int, default=3000,
                        help="events enqueued for the delivery phase (default 3000: about S seconds of them)")
    parser.add_argument("--concurrency", type=int, default=8, help="endpoint max_in_flight and POST tasks")
    parser.add_argument("--poll-interval", type=float, default=300.0,
                        help="seconds between an actor's polls (default 300; MetaSchedule's is 900)")
    parser.add_argument("--processes", type=count_list("engine process", "2,3"), default=[2, 3],
                        help="engine processes sharing the accounts in figure 5 (default 2,3)")
    parser.add_argument("--skip-db", action="store_true", help="only the actors (figures 4 and 5)")
    parser.add_argument("--skip-actors", action="store_true", help="only the database figures (1 to 3)")
    parser.add_argument("--skip-samples", action="store_true", help="without figure 1 (the aggregator)")
    parser.add_argument("--real-only", action="store_true",
                        help="of figures 4 and 5, only figure 4's real rows (no stand-ins, no engine processes)")
    parser.add_argument("--fleet-only", action="store_true",
                        help="of figures 4 and 5, only figure 5 (the engine processes sharing the largest N)")
    parser.add_argument("--row", type=int, help=argparse.SUPPRESS)  # one actors row, in a child process
    parser.add_argument("--row-kind", help=argparse.SUPPRESS)
    parser.add_argument("--row-url", help=argparse.SUPPRESS)
    parser.add_argument("--row-accounts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        child_main(args.row, args.row_kind, args.row_url, args.row_accounts, args.seconds, args.poll_interval)
        return
    with scratch("songtrack-bench-pipeline-", args.dsn) as run:
        if not args.skip_db:
            trio.run(_flow, run.dsn(), run.root, args)
        if not args.skip_actors:
            _actors(args, run)


if __name__ == "__main__":
    main()
