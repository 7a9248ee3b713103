"""Benchmark: live stream events over WebSocket. N concurrent clients subscribed to one track while events
arrive at each of --rate per second (default 1 and 100): fan-out latency p50/p99, delivered/expected frames,
server RSS per client and server CPU, with and without --slow-percent (default 1 %) of the clients made slow;
each row next to a bare broadcast loop on the same stack, measured in the same run.

Usage: .venv/bin/python bench/live.py [--clients 1000,5000,10000] [--seconds S] [--rate 1,100]
       [--slow-percent P] [--processes N] [--drain D] [--ramp T] [--backlog B] [--batch] [--dsn DSN]
Quick: .venv/bin/python bench/live.py --clients 200 --seconds 3

The rows at --rate 1 are one event at a time to every subscriber: the fan-out's latency on a server that
keeps up. Default --clients is 1000,5000, not 10,000: on a 2-core machine one server process delivers some
10-20k frames/s, so at 100 events/s it saturates below 200 clients, and the rows at that rate measure a
queue that grows for the whole window (p99 ~ the window) and how much of it each server still delivers.

How: without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations, then
create one organization, its owner, a session and one track, and mint one access token (24 h) with the
keys our server will load; every client uses that token. Each row starts a fresh server process:
- ours: our API worker (build_api + Api.serve: the LiveHub and /v1/streaming/ws), see
  bench/_live_servers.py. Events are ingested from this process through ``stream_events.ingest`` (a batch
  every 100 ms, occurred_at = now), and reach the hub by NOTIFY, as any source's do.
- bare: a QuartTrio app on the same hypercorn/trio ``serve_http``: connections in a set, and each event sent
  by ``for ws in connections: await ws.send(frame)`` in the task of a ``POST /broadcast`` that this process
  sends every 100 ms with the same frames (same shape and size, timestamp = now). No database, no auth, no
  per-connection queue (bench/_live_servers.py says exactly what it is).
Clients: --processes processes (bench/_live_clients.py: raw RFC 6455 on uvloop), each client authenticates,
subscribes, and times each stream frame as its receive time minus the frame's ``timestamp`` (one machine
clock). Slow clients (a 4 KB SO_RCVBUF, no reads after ``subscribed``) are not timed; after the window they
read again to learn their close code (4429 = closed as too slow). The window lasts --seconds; the fast
clients read --drain seconds longer, and frames that arrive later count as not delivered.
RSS per client = (server RSS 1 s after the last client subscribed - before the first connected) / clients
connected. Server CPU = its user+system time over the window, % of one core (100 % = one core saturated).
The limits lines divide the server's CPU time (window and drain) by the frames (stream events and counts
snapshots) the fast clients received.

With --batch our clients ask for batches (docs/live-streams.md, "Batches": several messages a WebSocket
message, a line each), which is how a dashboard watching a busy track should connect; the bare loop still
sends a frame per event, so that row's baseline is unchanged. The limits lines then count events, not frames.

Everything shares this machine's cores: the server, PostgreSQL, the client processes and this process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench._args import count_list, rate_list
from bench._live_run import BATCH_EVERY, Fixture, Run, measure
from bench._live_servers import settings_for
from config import data_path, load_or_create_keys
from engine.passwords import hash_password
from engine.store import EmbeddedPostgres, accounts, apply_migrations, open_database, sessions
from http_api.auth.tokens import TokenService

TOKEN_TTL = 86_400


async def _fixture(dsn: str, root: Path, env: dict[str, str]) -> tuple[Fixture, str]:
    data_dir = root / "data"
    keys = load_or_create_keys(data_path(settings_for(data_dir, env)))
    async with open_database(dsn, max_size=2) as db:
        await apply_migrations(db)
        version = str(await db.fetchval("SHOW server_version"))
        org, user = await accounts.create_organization_with_owner(
            db, org_name="Bench live", email=f"bench-live-{uuid.uuid4().hex[:8]}@example.com", name="Bench",
            password_hash=await hash_password("bench-live-password"))
        session, _ = await sessions.create_session(db, user_id=user.id, org_id=org.id,
                                                   refresh_ttl=timedelta(days=1), user_agent=None, ip=None)
        track = await db.fetchval("INSERT INTO tracks (organization_id, title, artist)"
                                  " VALUES ($1, 'Live bench', 'Band') RETURNING id", org.id)
        assert isinstance(track, uuid.UUID)
    token = TokenService(keys.jwt_signing_key, TOKEN_TTL, time.time).mint(
        user_id=user.id, org_id=org.id, role="owner", session_id=session.id)
    return Fixture(dsn, data_dir, org.id, track, token, env), version


async def _drop(dsn: str, organization_id: uuid.UUID) -> None:
    async with open_database(dsn, max_size=1) as db:
        await db.execute("DELETE FROM organizations WHERE id = $1", organization_id)


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def _closes(counts: dict[int, int]) -> str:
    return " ".join(f"{code or 'open'}x{n}" for code, n in sorted(counts.items())) or "-"


def _print_pair(ours: Run, bare: Run) -> None:
    pct = 100 * ours.slow / ours.clients
    print(f"{ours.clients:>7,}{ours.rate:>6g}{pct:>6.1f}{_ms(ours.percentile_ms(50)):>10}{_ms(ours.percentile_ms(99)):>10}"
          f"{_ms(bare.percentile_ms(50)):>10}{_ms(bare.percentile_ms(99)):>10}"
          f"{f'{ours.delivered:,}/{ours.expected:,}':>22}{f'{bare.delivered:,}/{bare.expected:,}':>22}"
          f"{ours.rss_per_client_kb:>8.1f}{bare.rss_per_client_kb:>7.1f}"
          f"{ours.server_cpu:>6.0f}{bare.server_cpu:>6.0f}", flush=True)
    for run in (ours, bare):
        notes = []
        if run.connected < run.clients:
            notes.append(f"only {run.connected:,} of {run.clients:,} connected: {dict(run.failed)}")
        if run.fast_closed:
            notes.append(f"fast clients closed by the server: {_closes(run.fast_closed)}")
        if run.unfinished or run.source_errors:
            notes.append(f"source: {run.unfinished} batches still running at the end of the drain "
                         f"(cancelled), errors {dict(run.source_errors) or 'none'}")
        if run.slow:
            notes.append(f"slow clients' close codes: {_closes(run.slow_closed)}")
        if run.counts:
            notes.append(f"fast clients also got {run.counts:,} counts snapshots")
        notes.append(f"connect {run.connect_seconds:.1f} s; clients' CPU {run.clients_cpu:.0f} %; "
                     f"server RSS {run.rss_before_kb / 1024:.0f} -> {run.rss_after_kb / 1024:.0f} MB, "
                     f"{run.rss_end_kb / 1024:.0f} MB at the window's end")
        print(f"        {run.kind}: " + "; ".join(notes))


def _limits(runs: list[Run], rates: list[float]) -> list[str]:
    lines = [f"limits: {os.cpu_count()} CPUs shared by the server, PostgreSQL, the client processes and the "
             f"source; each server is one trio thread (CPU 100 % = one core saturated)."]
    for kind in ("ours", "bare"):
        mine = [r for r in runs if r.kind == kind and r.delivered]
        if not mine:
            continue
        us = sorted(r.us_per_frame for r in mine)[len(mine) // 2]  # the median row
        clients = ", ".join(f"{1e6 / us / rate:,.0f} clients at {rate:g} events/s" for rate in rates)
        lines.append(f"  {kind}: {us:.0f} us of server CPU per frame delivered (median row) = at most "
                     f"{1e6 / us:,.0f} frames/s on one core, i.e. {clients} "
                     f"(one WebSocket frame per event per client{', plus counts' if kind == 'ours' else ''})")
    needed = ", ".join(sorted({f"{r.clients * r.rate:,.0f}" for r in runs}, key=lambda n: float(n.replace(",", ""))))
    lines.append(f"  needed: rate x clients frames/s ({needed}); rows above that ceiling queue, and their latency "
                 f"grows with the window. RLIMIT_NOFILE hard limit {resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,}"
                 " per process.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=count_list("client", "1000,5000,10000"),
                        default=[1000, 5000], help="client counts (default 1000,5000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per row (default 15)")
    parser.add_argument("--rate", type=rate_list, default=[1.0, 100.0],
                        help="events per second in, a row each (default 1,100)")
    parser.add_argument("--slow-percent", type=float, default=1.0, help="slow clients in the second row (1)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds the clients read after the window")
    parser.add_argument("--ramp", type=float, default=120.0,
                        help="seconds the clients have to connect and subscribe; later ones are counted as failed")
    parser.add_argument("--backlog", type=int, help="SONGTRACK_LIVE_BACKLOG for our server (default: ours, 1000)")
    parser.add_argument("--batch", action="store_true",
                        help="our clients ask for batches (several messages a WebSocket message); bare is unchanged")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if max(args.clients) + 100 > hard:
        print(f"warning: the file-descriptor hard limit is {hard:,}: the server cannot hold {max(args.clients):,} "
              "clients", file=sys.stderr)
    root = Path(tempfile.mkdtemp(prefix="songtrack-bench-live-"))
    root.chmod(0o755)  # as root, PostgreSQL runs as another account, which must reach its data
    started, load_before = time.monotonic(), os.getloadavg()[0]
    postgres = None if args.dsn else EmbeddedPostgres(root / "pg", database="bench", fsync=False)
    fixture = None
    try:
        dsn = args.dsn if postgres is None else postgres.start()
        env = {"SONGTRACK_DATABASE_URL": dsn}
        if args.backlog:
            env["SONGTRACK_LIVE_BACKLOG"] = str(args.backlog)
        fixture, version = trio.run(_fixture, dsn, root, env)
        rates = ",".join(f"{rate:g}" for rate in args.rate)
        print(f"PostgreSQL {version}; {os.cpu_count()} CPUs; {rates} events/s in (a batch every "
              f"{BATCH_EVERY * 1000:.0f} ms), {args.seconds:g} s window + {args.drain:g} s drain per row; "
              f"{args.processes} client processes; our backlog: {args.backlog or 'default (1000)'}; our clients"
              f" {'ask for batches' if args.batch else 'get one WebSocket message per event'}\n"
              f"clients: {','.join(map(str, args.clients))} (10k is not in the default: see the docstring)\n")
        print(f"{'clients':>7}{'rate':>6}{'slow%':>6}{'ours p50':>10}{'p99 ms':>10}{'bare p50':>10}{'p99 ms':>10}"
              f"{'ours delivered/expect':>22}{'bare delivered/expect':>22}{'KB/cl':>8}{'bare':>7}"
              f"{'CPU%':>6}{'bare':>6}", flush=True)
        runs: list[Run] = []
        for clients, rate, pct in itertools.product(args.clients, args.rate, (0.0, args.slow_percent)):
            slow = round(clients * pct / 100)
            if pct and not slow:
                continue
            pair = [measure(kind, clients, slow, fixture, root, processes=args.processes, seconds=args.seconds,
                            rate=rate, drain=args.drain, ramp=args.ramp, batch=args.batch)
                    for kind in ("ours", "bare")]
            _print_pair(*pair)
            runs += pair
        print("\n".join(_limits(runs, args.rate)))
        print(f"load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        sys.exit(130)
    finally:
        if fixture is not None and args.dsn:
            trio.run(_drop, args.dsn, fixture.organization_id)
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
