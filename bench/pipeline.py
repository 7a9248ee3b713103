"""Benchmark: the pipeline from account actors to signed webhooks, each figure next to a baseline measured in
the same run: samples/s through the aggregator (vs a raw INSERT of the same rows), signed deliveries/s (vs a
raw httpx POST loop to the same receiver), the latency from a sample to its webhook (vs one raw POST), and
the account actors one process holds polling the Meta simulator (vs as many bare sleeping tasks).

Usage: .venv/bin/python bench/pipeline.py [--seconds S] [--dsn DSN] [--actors 1000,10000,20000]
       [--events N] [--concurrency C] [--poll-interval I] [--skip-db]

How: without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations; with it,
the migrations are applied to that database and our rows (organizations named "Bench ...") are left there.

1. samples/s: 100 campaigns with 10 rules each (budget.warning at 25/50/80/100 %, pacing, three goals,
   completed, metrics.updated); one producer keeps the ``Aggregator``'s inbox full of changing samples
   (28 days x 4 metrics, growing values) for S seconds after a 0.5 s warm-up. Counted: samples committed
   (facts upserted, totals recomputed, rules evaluated, alerts, notifications and outbox events written).
   Baseline: the same rows, 256 per transaction (the aggregator's largest batch), one unnest INSERT into an
   index-free copy of the facts table, through our ``Database``.
2. deliveries/s: N events enqueued (untimed) for one endpoint on a local receiver (hypercorn, in this
   process), then a ``WebhookDispatcher`` (signing, SSRF guard, claims, attempt log) is started and we count
   what the receiver gets until all N arrived or S seconds passed. The endpoint's max_in_flight is C.
   Baseline: C tasks POSTing an unsigned envelope back to back with one httpx.AsyncClient, S seconds.
3. latency: aggregator and dispatcher running; one sample every 50 ms, each to a fresh campaign, each
   crossing its 25 % budget threshold, so each fires one budget.warning for an endpoint that subscribes to
   that type only. Timed: from handing the sample to the aggregator's inbox to the receiver reading the
   webhook. Baseline: one unsigned POST's round trip to the same receiver, at the same pace.
4. actors: see bench/_pipeline_actors.py for what the actors are (paced MetaClient calls against the
   simulator in its own process, not MetaAccountActors) and what the bare baseline is. Each actor polls
   every I seconds (default 300: 10k actors make 33 calls/s; MetaSchedule's 900 s and two calls a cycle
   make 22), so the window holds about N * S / I wake-ups: a lower I gives p99 more samples and more load.

Everything shares this machine's cores with PostgreSQL, the receiver (in this process) and the simulator:
compare the ratios between runs more than the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench import _pipeline_flow as flow
from bench._args import count_list
from bench._pipeline_actors import DRAIN, ActorsRow, child_main, client_cost, row_in_child
from bench._pipeline_receiver import Receiver, serve_receiver
from bench._scratch import scratch
from engine.store import apply_migrations, open_database
from engine.store.database import Database

CAMPAIGNS = 100
SIMULATOR_MAX_ACCOUNTS = 10_000  # SimulatorConfig.accounts allows no more


def _line(label: str, ours: str, baseline: str, ratio: str = "") -> None:
    print(f"{label:<44}{ours:>16}{baseline:>18}{ratio:>8}", flush=True)


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.3f}" if baseline else "-"


async def _flow(dsn: str, args: argparse.Namespace) -> None:
    async with open_database(dsn, min_size=2, max_size=8) as db:
        await apply_migrations(db)
        print(f"PostgreSQL {await db.fetchval('SHOW server_version')}, {os.cpu_count()} CPUs, "
              f"{args.seconds:g} s per measurement\n")
        _line("figure", "ours", "baseline", "ratio")
        org = await flow.new_organization(db, "Bench aggregator")
        campaigns = await flow.new_campaigns(db, org, CAMPAIGNS, budget=1000, started_days_ago=10, days=30,
                                             goals=50_000)
        ours = await flow.through_aggregator(db, flow.sample_stream(org, campaigns), args.seconds)
        raw = await flow.raw_inserts(db, flow.sample_stream(org, campaigns), args.seconds)
        _line("1. samples/s through the aggregator", f"{ours.per_second:,.0f}", f"{raw.per_second:,.0f}",
              _ratio(ours.per_second, raw.per_second))
        print(f"   {CAMPAIGNS} campaigns x 10 rules ({flow.RULES}); {ours.count:,} samples measured, "
              f"{ours.note}; baseline: raw INSERT of the same rows, {flow.BATCH} per transaction")
        key = flow.keygen()
        async with trio.open_nursery() as nursery:
            receiver = await serve_receiver(nursery)
            await _delivery_rows(db, key, receiver, args)
            nursery.cancel_scope.cancel()


async def _delivery_rows(db: Database, key: bytes, receiver: Receiver, args: argparse.Namespace) -> None:
    ours = await flow.deliveries(db, key, receiver, args.events, args.seconds, args.concurrency)
    raw = await flow.raw_posts(receiver, args.seconds, args.concurrency)
    _line("2. signed deliveries/s to a local receiver", f"{ours.per_second:,.0f}", f"{raw.per_second:,.0f}",
          _ratio(ours.per_second, raw.per_second))
    print(f"   {ours.count:,} delivered in {ours.seconds:.2f} s ({ours.note}); endpoint max_in_flight "
          f"{args.concurrency}; baseline: {args.concurrency} tasks, raw httpx POST, unsigned")
    latencies = await flow.latency(db, key, receiver, args.seconds, args.concurrency)
    baseline = await flow.raw_post_latency(receiver, len(latencies) or 20)
    for p in (50, 99):
        mine, base = flow.percentile_ms(latencies, p), flow.percentile_ms(baseline, p)
        _line(f"3. sample -> webhook latency p{p} (ms)", f"{mine:,.1f}", f"{base:,.1f}", _ratio(mine, base))
    expected = max(20, int(args.seconds * flow.LATENCY_RATE))
    print(f"   {len(latencies)} of {expected} samples' webhooks arrived; baseline: one raw POST round trip\n",
          flush=True)


def _actors(args: argparse.Namespace, root: Path) -> None:
    from bench.providers import start_simulator  # the simulator process providers.py already runs

    per_client_ms, per_client_mb = client_cost()
    accounts = min(max(args.actors), SIMULATOR_MAX_ACCOUNTS)
    server, url, acts = start_simulator(accounts, 1, root)
    acts_file = root / "accounts.txt"
    acts_file.write_text("\n".join(acts))
    print(f"4. account actors polling the Meta simulator (standard_access, {accounts:,} accounts, own process); "
          f"each actor polls every {args.poll_interval:g} s\n   (random phase), {args.seconds:g} s measured, "
          f"each row in a fresh process. lag = woke - planned, over the wakes in the window.")
    print(f"   {'actors / kind':<20}{'polls/s':>8}{'wakes':>8}{'polls':>8}{'lag p50 ms':>12}{'lag p99 ms':>12}"
          f"{'RSS MB':>9}{'+MB':>8}{'KB/actor':>10}{'p99 ratio':>11}", flush=True)
    try:
        for n in args.actors:
            rows = [row_in_child(n, kind, url, acts_file, args.seconds, args.poll_interval)
                    for kind in ("ours", "bare")]
            p99_ratio = _ratio(flow.percentile_ms(rows[0].lags, 99), flow.percentile_ms(rows[1].lags, 99))
            for row in rows:
                print(_actors_line(row, n / args.poll_interval, p99_ratio if row.kind == "ours" else ""), flush=True)
    finally:
        if (code := server.stop()) != 0:
            print(f"the simulator exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)
    print(f"   ours: Pacer + MetaClient.campaigns over one shared httpx.AsyncClient; bare: the same wake-ups, no "
          f"work. Above {SIMULATOR_MAX_ACCOUNTS:,}\n   actors, accounts are shared (the simulator's maximum). "
          f"Not counted: the runtime gives each MetaAccountActor its own\n   httpx.AsyncClient, measured apart at "
          f"{per_client_ms:.1f} ms and {per_client_mb:.2f} MB per client.")


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
    parser.add_argument("--events", type=int, default=1000, help="events enqueued for the delivery phase")
    parser.add_argument("--concurrency", type=int, default=8, help="endpoint max_in_flight and POST tasks")
    parser.add_argument("--poll-interval", type=float, default=300.0,
                        help="seconds between an actor's polls (default 300; MetaSchedule's is 900)")
    parser.add_argument("--skip-db", action="store_true", help="only the actors (figure 4)")
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
            trio.run(_flow, run.dsn(), args)
        _actors(args, run.root)


if __name__ == "__main__":
    main()
