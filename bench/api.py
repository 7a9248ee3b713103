"""Benchmark: requests/s and p50/p99 latency of the HTTP API for login, list campaigns (a 20-row page of an
organization with 10,000 campaigns) and get campaign, each next to a bare route of the same app that returns
the same JSON bytes, measured in the same run.

Usage: .venv/bin/python bench/api.py [--seconds S] [--connections N] [--processes P] [--dsn DSN]

How: without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations. The server
is one API worker in its own process, built the way ``songtrack api`` builds it (``songtrack.runtime.serve_api``:
the same settings, keys, pool, ``build_api`` and ``Api.serve``), plus one route the product does not have,
``/bench/bare/<name>``, which returns bytes captured from a real response (the login, the list page and the
campaign). Setup registers an account through the API, gives its organization the enterprise tier and inserts
10,000 campaigns with SQL; none of that is timed. Each row is then ``--connections`` keep-alive connections
sending one request back to back from ``--processes`` client processes (raw h11 on trio), a one-second
un-timed warm-up, then ``--seconds`` measured.

Reading it: req/s counts successful responses finished inside the window; p50/p99 are over the requests
sent inside it. "vs bare" is the route's req/s divided by its bare twin's: both go through the same process,
hypercorn worker and Quart app, so the gap is what our routing, validation, token check, session lookup,
rate-limit counter and SQL cost (and for login, argon2, which is meant to be slow). The server, PostgreSQL and
the load generator share this machine's cores, so absolute numbers are lower than on a dedicated server, and
the ratio is the figure to compare between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from quart import Response, abort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench._api_compare import start_express, start_workers, stop_all
from bench._api_worker import run_worker
from bench._load import LoadResult, Target, open_clients, run_load
from bench._scratch import scratch
from bench._server import ServerProcess
from config import load_or_create_keys
from engine.store import apply_migrations, open_database

CAMPAIGNS = 10_000
PAGE = 20
# The brute-force limiter counts every login per IP and per email (5 per 15 minutes by default), so the
# login row would measure 429s. 100,000 is the most the setting accepts (config/settings.py).
AUTH_ATTEMPTS = 100_000
PASSWORD = "correct horse battery staple"
BARE = ("login", "list", "get", "profile")  # the bodies /bench/bare/<name> can return
WARMUP = 1.0
LIST_RATE = 300  # req/s of the paced list row (issue 19's target: p99 under 50 ms)
START_TIMEOUT = 60.0

# Realistic rows: varied names, statuses, objectives, budgets and totals, and distinct created_at values so
# the default sort walks the (organization_id, created_at) index as it would in production.
_SEED = """
INSERT INTO campaigns (organization_id, name, description, objective, status, budget, currency, start_date,
                       end_date, budget_spent, impressions, clicks, streams, created_at, updated_at)
SELECT $1::uuid, 'Campaign ' || lpad(g::text, 5, '0'), 'Promotion push number ' || g,
       (ARRAY['streams', 'awareness', 'traffic', 'engagement', 'conversions'])[1 + g % 5],
       (ARRAY['draft', 'active', 'paused', 'completed', 'archived'])[1 + g % 5],
       100 + g % 900, 'USD', now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '30 days',
       (g % 100) * 1.5, g * 37, g * 3, g * 2,
       now() - g * interval '1 minute', now() - g * interval '1 minute'
FROM generate_series(1, $2::int) AS g
"""


# --- the server process -----------------------------------------------------------------------------------


def serve(data_dir: Path, bodies: Path, ready: Path, fd: int | None) -> int:
    """``python bench/api.py --serve``: one API worker as ``songtrack api`` runs it, plus the bare route.

    Writes the URL it listens on to ``ready`` once it accepts connections; stops on SIGINT/SIGTERM.
    """
    view = _bare_view(bodies)
    return run_worker(data_dir, ready, lambda app: app.add_url_rule("/bench/bare/<name>", "bench_bare", view,
                                                                    methods=["GET"]), fd)


def _bare_view(bodies: Path) -> Any:
    """The baseline: no auth, no validation, no SQL, the same bytes as a real response (read on first use,
    which the warm-up covers, then served from memory)."""
    cache: dict[str, bytes] = {}

    async def bench_bare(name: str) -> Response:
        if name not in BARE:
            abort(404)
        body = cache.get(name)
        if body is None:
            body = cache[name] = await trio.Path(bodies / f"{name}.json").read_bytes()
        return Response(body, content_type="application/json")

    return bench_bare


def _server_command(dsn: str, root: Path) -> tuple[list[str], dict[str, str]]:
    """The API server's command line and environment."""
    argv = [sys.executable, __file__, "--serve", "--data-dir", str(root / "data"), "--bodies", str(root / "bodies")]
    return argv, {"SONGTRACK_DATABASE_URL": dsn, "SONGTRACK_AUTH_ATTEMPTS": str(AUTH_ATTEMPTS)}


def start_server(dsn: str, root: Path) -> tuple[ServerProcess, str]:
    """The API server process on ``dsn``, and its URL."""
    argv, env = _server_command(dsn, root)
    return ServerProcess.launch(argv, root, what="API server", start_timeout=START_TIMEOUT, env=env)


# --- setup (not timed) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    email: str
    organization_id: str
    token: str
    campaign_id: str

    def counter_keys(self) -> list[str]:
        """The rate-limit counters our requests bump (http_api/routing.py, http_api/auth/credentials.py)."""
        return [f"org:{self.organization_id}", "auth:ip:127.0.0.1", f"auth:email:{self.email.lower()}"]


async def _migrate(dsn: str) -> str:
    async with open_database(dsn, max_size=1) as db:
        await apply_migrations(db)
        return str(await db.fetchval("SHOW server_version"))


async def _prepare(dsn: str, url: str) -> tuple[Fixture, dict[str, bytes]]:
    """An account (through the API), 10,000 campaigns (through SQL), and the real responses the bare
    route will repeat, by name."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        reply = await _call(client, "POST", "/v1/auth/register", 201, json={
            "email": email, "password": PASSWORD, "name": "Bench", "organizationName": "Bench Records"})
        account = reply.json()
        org_id, token = account["user"]["organizationId"], account["tokens"]["accessToken"]
        async with open_database(dsn, max_size=1) as db:
            await db.execute("UPDATE organizations SET tier = 'enterprise' WHERE id = $1", uuid.UUID(org_id))
            await db.execute(_SEED, uuid.UUID(org_id), CAMPAIGNS)
            await db.execute("ANALYZE campaigns")  # autovacuum would, a little later, in production
        auth = {"Authorization": f"Bearer {token}"}
        page = await _call(client, "GET", f"/v1/campaigns?limit={PAGE}", 200, headers=auth)
        listed = page.json()
        if listed["pagination"]["total"] != CAMPAIGNS or len(listed["campaigns"]) != PAGE:
            raise SystemExit(f"setup: expected {PAGE} of {CAMPAIGNS} campaigns, got {listed['pagination']}")
        campaign_id = listed["campaigns"][0]["id"]
        one = await _call(client, "GET", f"/v1/campaigns/{campaign_id}", 200, headers=auth)
        profile = await _call(client, "GET", "/v1/auth/profile", 200, headers=auth)
        login = await _call(client, "POST", "/v1/auth/login", 200, json={"email": email, "password": PASSWORD})
    bodies = dict(zip(BARE, (login.content, page.content, one.content, profile.content), strict=True))
    return Fixture(email, org_id, token, campaign_id), bodies


async def _call(client: httpx.AsyncClient, method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
    response = await client.request(method, path, **kwargs)
    if response.status_code != expect:
        hint = " (are the campaign routes registered in http_api/app.py?)" if "campaigns" in path else ""
        raise SystemExit(f"setup: {method} {path} answered {response.status_code}{hint}: {response.text[:300]}")
    return response


async def _reset_counters(dsn: str, keys: list[str]) -> None:
    """Zero our rate-limit counters. The enterprise tier allows 100,000 requests per hour per organization,
    and a row of a fast route on a fast machine could pass that (and the next rows would then measure 429s);
    deleting only our keys, not the whole table, keeps a shared --dsn database's other counters intact."""
    async with open_database(dsn, max_size=1) as db:
        await db.execute("DELETE FROM rate_limit_counters WHERE key = ANY($1::text[])", keys)


async def _drop_fixture(dsn: str, fixture: Fixture) -> None:
    async with open_database(dsn, max_size=1) as db:  # users, sessions and campaigns go with it (CASCADE)
        await db.execute("DELETE FROM organizations WHERE id = $1", uuid.UUID(fixture.organization_id))
        await db.execute("DELETE FROM rate_limit_counters WHERE key = ANY($1::text[])", fixture.counter_keys())


# --- the table ------------------------------------------------------------------------------------------------


def _rows(url: str, fixture: Fixture) -> list[tuple[str, Target, str]]:
    """(label, real request, the bare body that matches it)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    auth = (("Authorization", f"Bearer {fixture.token}"),)
    login = f'{{"email": "{fixture.email}", "password": "{PASSWORD}"}}'.encode()
    json_type = (("Content-Type", "application/json"),)
    return [
        ("POST /v1/auth/login", Target(host, int(port), "POST", "/v1/auth/login", json_type, login), "login"),
        (f"GET /v1/campaigns?limit={PAGE}", Target(host, int(port), "GET", f"/v1/campaigns?limit={PAGE}", auth),
         "list"),
        ("GET /v1/campaigns/<id>", Target(host, int(port), "GET", f"/v1/campaigns/{fixture.campaign_id}", auth),
         "get"),
        ("GET /v1/auth/profile", Target(host, int(port), "GET", "/v1/auth/profile", auth), "profile"),
    ]


def _line(label: str, result: LoadResult, ratio: str) -> str:
    p50, p99 = result.percentile_ms(50), result.percentile_ms(99)
    n = len(result.latencies)
    return f"{label:<36}{result.rate:>9,.0f}{p50:>10,.1f}{p99:>10,.1f}{n:>8,}{ratio:>9}"


def measure(dsn: str, root: Path, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    pool = open_clients(args.processes)
    server: ServerProcess | None = None
    fixture: Fixture | None = None
    try:
        version = trio.run(_migrate, dsn)
        server, url = start_server(dsn, root)
        fixture, bodies = trio.run(_prepare, dsn, url)
        for name, body in bodies.items():
            (root / "bodies" / f"{name}.json").write_bytes(body)
        print(f"SongTrackPro API, one worker process at {url}; PostgreSQL {version}\n"
              f"{os.cpu_count()} CPUs, SHARED by the server, PostgreSQL and the load generator: absolute numbers\n"
              f"  are lower than on a dedicated server; compare the ratios between runs.\n"
              f"{args.connections} keep-alive connections from {args.processes} client processes (h11 on trio), "
              f"{WARMUP:g} s warm-up + {args.seconds:g} s measured per row.\n"
              f"Login runs with SONGTRACK_AUTH_ATTEMPTS={AUTH_ATTEMPTS} so the brute-force limiter does not "
              f"answer 429;\n  each login is an argon2id check (slow on purpose). The list is a {PAGE}-row page "
              f"of {CAMPAIGNS:,} campaigns\n  (enterprise tier; our rate-limit counters are reset before each "
              f"row). Server log: info level, to a file.\n")
        print(f"{'route':<36}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}{'vs bare':>9}", flush=True)
        errors: list[str] = []
        for label, target, bare in _rows(url, fixture):
            if bare not in args.rows:
                continue
            real = _phase(dsn, pool, args, fixture, target)
            baseline = _phase(dsn, pool, args, fixture, Target(target.host, target.port, "GET", f"/bench/bare/{bare}"))
            size = len(bodies[bare])
            print(_line(label, real, f"{real.rate / baseline.rate:.2f}" if baseline.rate else "-"))
            print(_line(f"  bare route, same {size:,} B JSON", baseline, ""), flush=True)
            errors += [f"{label}: {real.errors}"] * bool(real.errors)
            errors += [f"{label} (bare): {baseline.errors}"] * bool(baseline.errors)
        if "list" in args.rows:
            errors += _paced_list(dsn, pool, args, fixture, url, "one worker")
        if "profile" in args.rows:
            errors += _deployments(dsn, root, pool, args, fixture)
        print("\nn: requests timed. Login latency is mostly queueing: the connections wait for the server's\n"
              "  argon2 threads (engine/passwords.py), so its req/s is the figure to watch.")
        print("unexpected responses (status 0: connection error): " + ("; ".join(errors) or "none"))
        print(f"load average (1 min) before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} "
              "(other work on the machine lowers every figure)")
    finally:
        pool.terminate()  # first: busy keep-alive connections would hold up the server's graceful stop
        if server is not None and (code := server.stop()) != 0:
            print(f"the API server exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)
        if fixture is not None and args.dsn:
            trio.run(_drop_fixture, dsn, fixture)


def _paced_list(dsn: str, pool: Any, args: argparse.Namespace, fixture: Fixture, url: str, where: str) -> list[str]:
    """The list at a fixed LIST_RATE req/s (an open loop), next to its bare twin at the same rate."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    auth = (("Authorization", f"Bearer {fixture.token}"),)
    pace = args.connections / LIST_RATE
    real = _phase(dsn, pool, args, fixture, Target(host, int(port), "GET", f"/v1/campaigns?limit={PAGE}", auth,
                                                   pace=pace))
    bare = _phase(dsn, pool, args, fixture, Target(host, int(port), "GET", "/bench/bare/list", pace=pace))
    print(f"\nThe list at {LIST_RATE} req/s, {where} (open loop; latency from when each request was due; "
          "target p99 < 50 ms):")
    print(_line(f"GET /v1/campaigns?limit={PAGE} @{LIST_RATE}/s", real, ""))
    print(_line(f"  bare route @{LIST_RATE}/s", bare, ""), flush=True)
    return [f"list @{LIST_RATE}/s: {real.errors}"] * bool(real.errors)


def _deployments(dsn: str, root: Path, pool: Any, args: argparse.Namespace, fixture: Fixture) -> list[str]:
    """The profile read as each stack runs by default: ours with ``--workers`` processes (the cores), next to
    its bare route through the same workers, and SongTrackPro's Express app (one Node process)."""
    argv, env = _server_command(dsn, root)
    auth = (("Authorization", f"Bearer {fixture.token}"),)
    servers, url = start_workers(argv, root, args.workers, env)
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        ours = _phase(dsn, pool, args, fixture, Target(host, int(port), "GET", "/v1/auth/profile", auth))
        bare = _phase(dsn, pool, args, fixture, Target(host, int(port), "GET", "/bench/bare/profile"))
        listed = _paced_list(dsn, pool, args, fixture, url, f"--workers {args.workers}")
    finally:
        failed = stop_all(servers)
    express = start_express(dsn, root, load_or_create_keys(root / "data").jwt_signing_key)
    theirs: LoadResult | None = None
    if not isinstance(express, str):
        server, their_url = express
        try:
            host, port = their_url.removeprefix("http://").rsplit(":", 1)
            theirs = _phase(dsn, pool, args, fixture, Target(host, int(port), "GET", "/api/auth/profile", auth))
        finally:
            failed += stop_all([server])
    print(f"\nDefault deployments, the profile read: ours with --workers {args.workers} (the cores), Express as "
          "Node runs it (one process):")
    print(f"{'deployment':<36}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}{'vs Express':>11}")
    ratio = f"{ours.rate / theirs.rate:.2f}" if theirs is not None and theirs.rate else "-"
    of_bare = f"   ({ours.rate / bare.rate:.2f} of bare)" if bare.rate else ""
    print(_line(f"ours, --workers {args.workers}", ours, ratio) + of_bare)
    print(_line(f"  bare route, --workers {args.workers}", bare, ""))
    if theirs is None:
        print(f"Express: skipped, {express}")
    else:
        print(_line("Express 5 + pg + jsonwebtoken, node", theirs, ""), flush=True)
    for tail in failed:
        print(f"a server of the deployment rows did not stop cleanly; its log ends:\n{tail}", file=sys.stderr)
    return listed + [f"deployments: {r.errors}" for r in (ours, bare, theirs) if r is not None and r.errors]


def _phase(dsn: str, pool: Any, args: argparse.Namespace, fixture: Fixture, target: Target) -> LoadResult:
    trio.run(_reset_counters, dsn, fixture.counter_keys())
    return run_load(pool, args.processes, target, args.connections, args.seconds, WARMUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections in all (default 32)")
    parser.add_argument("--processes", type=int, default=2, help="client processes sharing them (default 2)")
    parser.add_argument("--rows", type=lambda text: text.split(","), default=list(BARE),
                        help=f"which rows, comma-separated (default all: {','.join(BARE)})")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="API processes of the default-deployment rows (default: the cores)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a worker's inherited socket
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.data_dir, args.bodies, args.ready, args.fd))
    with scratch("songtrack-bench-api-", args.dsn) as run:
        (run.root / "bodies").mkdir()
        measure(run.dsn(), run.root, args)


if __name__ == "__main__":
    main()
