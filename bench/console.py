"""Benchmark: the console's campaign page (``GET /app/campaigns/<id>``, signed in with the session cookie) for
a campaign with a year of days in an organization of 10,000 campaigns, next to the JSON route for the same
data (``GET /v1/analytics/campaigns/{id}``, Bearer token), measured in the same run. Target (issue 16): the
page renders in under 100 ms of server time.

Usage: .venv/bin/python bench/console.py [--requests N] [--days D] [--campaigns C] [--dsn DSN]

How: without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations. The server
is one API worker in its own process, built as ``songtrack api`` builds it (bench/_api_worker.py), whose app
also stamps each response with ``Server-Timing: app;dur=<ms>``: the time from the app's first
``before_request`` to its last ``after_request`` (routing, session or token check, SQL, analytics, template),
without hypercorn's parsing and writing. Setup (untimed) registers an account through the API, signs in
through the console's form, gives the organization the enterprise tier (no hourly budget in the way), and
inserts with SQL the campaigns (C - 1 plain ones) and one active campaign of D days (default 365) up to today
with its daily spend, impressions and clicks, its track's streams per UTC day over those days and the
baseline's before them (bench/_rules_db.py's ``write_campaigns``), and its totals. Then 20 un-timed
warm-up requests of each route, and N requests of each (default 300), alternating page and JSON, one at a
time on one keep-alive connection each.

Reading it: "server" is the Server-Timing figure, "client" the round trip seen by the client (httpx, on
this machine). The page does what the JSON route does (the same ``campaign_analytics``) plus the campaign,
its history and alerts, the layout's user and organization, and the HTML with the chart's data; the ratio
of the medians is the figure to compare between runs. Everything shares this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio
from quart import Response, g

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench._api_worker import run_worker
from bench._rules_data import Campaign
from bench._rules_db import write_campaigns
from bench._scratch import scratch
from bench._server import ServerProcess
from engine.rules.figures import AdDay
from engine.store import apply_migrations, facts, open_database

CAMPAIGNS = 10_000
DAYS = 365
BASELINE_DAYS = 28
REQUESTS = 300
WARMUP = 20
TARGET_MS = 100.0
PASSWORD = "correct horse battery staple"
START_TIMEOUT = 60.0
_TIMING = re.compile(r"app;dur=([0-9.]+)")
# The other campaigns: varied names, statuses and budgets, distinct created_at values (the list's index).
_OTHERS = """
INSERT INTO campaigns (organization_id, name, objective, status, budget, currency, start_date, end_date,
                       created_at, updated_at)
SELECT $1::uuid, 'Campaign ' || lpad(g::text, 5, '0'), 'streams',
       (ARRAY['draft', 'active', 'paused', 'completed', 'archived'])[1 + g % 5], 100 + g % 900, 'USD',
       now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '30 days',
       now() - g * interval '1 minute', now() - g * interval '1 minute'
FROM generate_series(1, $2::int) AS g
"""


# --- the server process -----------------------------------------------------------------------------------


def serve(data_dir: Path, ready: Path) -> int:
    """``python bench/console.py --serve``: one API worker that says its own time in ``Server-Timing``."""
    return run_worker(data_dir, ready, _time_requests)


def _time_requests(app: Any) -> None:
    async def started() -> None:
        g.bench_started = time.perf_counter()

    async def finished(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.bench_started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.3f}"
        return response

    # First in, last out: around every other hook of the app and its blueprints.
    app.before_request_funcs.setdefault(None, []).insert(0, started)
    app.after_request_funcs.setdefault(None, []).append(finished)


# --- setup (not timed) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    campaign_id: uuid.UUID
    token: str
    cookies: httpx.Cookies


def _year_campaign(days: int) -> Campaign:
    """One active campaign of ``days`` UTC days up to today, with a track streaming since before it."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    ad_days = {first + timedelta(n): AdDay(spend_minor=1_000 + n % 17 * 50, impressions=5_000 + n % 31 * 100,
                                           clicks=80 + n % 13) for n in range(days)}
    stream_days = {first + timedelta(n): (100 if n < 0 else 150) + n % 23
                   for n in range(-BASELINE_DAYS, days)}
    return Campaign(id=uuid.uuid4(), track_id=uuid.uuid4(), start=_midnight(first),
                    end=_midnight(today) + timedelta(days=1, seconds=-1), ad_days=ad_days, stream_days=stream_days)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _migrate(dsn: str) -> str:
    async with open_database(dsn, max_size=1) as db:
        await apply_migrations(db)
        return str(await db.fetchval("SHOW server_version"))


async def _prepare(dsn: str, url: str, campaigns: int, days: int) -> Fixture:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    campaign = _year_campaign(days)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        account = (await _call(client, "POST", "/v1/auth/register", 201, json={
            "email": email, "password": PASSWORD, "name": "Bench", "organizationName": "Bench Records"})).json()
        org = uuid.UUID(account["user"]["organizationId"])
        async with open_database(dsn, max_size=1) as db:
            await db.execute("UPDATE organizations SET tier = 'enterprise' WHERE id = $1", org)
            await db.execute(_OTHERS, org, campaigns - 1)
            await write_campaigns(db, org, [campaign])  # and ANALYZE
            async with db.transaction() as tx:
                await facts.recompute_totals(tx, [campaign.id])
        form = await _call(client, "GET", "/login", 200)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if token is None:
            raise SystemExit("setup: the sign-in page has no CSRF token")
        await _call(client, "POST", "/login", 303, data={"csrf_token": token.group(1), "email": email,
                                                         "password": PASSWORD, "next": "/app"})
        return Fixture(campaign.id, account["tokens"]["accessToken"], client.cookies)


async def _call(client: httpx.AsyncClient, method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
    response = await client.request(method, path, **kwargs)
    if response.status_code != expect:
        raise SystemExit(f"setup: {method} {path} answered {response.status_code}: {response.text[:300]}")
    return response


# --- the measurement ------------------------------------------------------------------------------------------


@dataclass
class Timings:
    server: list[float]
    client: list[float]
    size: int = 0

    def line(self, label: str) -> str:
        return (f"{label:<40}{statistics.median(self.server):>9.1f}{_p90(self.server):>9.1f}"
                f"{statistics.median(self.client):>9.1f}{_p90(self.client):>9.1f}{len(self.server):>6}"
                f"{self.size:>10,}")


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


async def _once(client: httpx.AsyncClient, path: str, into: Timings | None) -> None:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    timing = _TIMING.search(response.headers.get("Server-Timing", ""))
    if timing is None:
        raise SystemExit(f"GET {path} has no Server-Timing header")
    if into is not None:
        into.server.append(float(timing.group(1)))
        into.client.append(elapsed)
        into.size = len(response.content)


async def _measure(url: str, fixture: Fixture, requests: int) -> tuple[Timings, Timings]:
    page_path, json_path = f"/app/campaigns/{fixture.campaign_id}", f"/v1/analytics/campaigns/{fixture.campaign_id}"
    page, data = Timings([], []), Timings([], [])
    async with (httpx.AsyncClient(base_url=url, cookies=fixture.cookies, timeout=30) as browser,
                httpx.AsyncClient(base_url=url, timeout=30,
                                  headers={"Authorization": f"Bearer {fixture.token}"}) as api):
        shown = await browser.get(page_path)
        if 'id="campaign-chart-data"' not in shown.text:  # a page without its analytics would be fast and wrong
            raise SystemExit(f"GET {page_path} shows no chart: {shown.status_code} {shown.text[:300]}")
        for n in range(WARMUP + requests):
            await _once(browser, page_path, page if n >= WARMUP else None)
            await _once(api, json_path, data if n >= WARMUP else None)
    return page, data


def measure(dsn: str, root: Path, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    server: ServerProcess | None = None
    try:
        version = trio.run(_migrate, dsn)
        argv = [sys.executable, __file__, "--serve", "--data-dir", str(root / "data")]
        server, url = ServerProcess.launch(argv, root, what="API server", start_timeout=START_TIMEOUT,
                                           env={"SONGTRACK_DATABASE_URL": dsn})
        fixture = trio.run(_prepare, dsn, url, args.campaigns, args.days)
        print(f"SongTrackPro API, one worker process at {url}; PostgreSQL {version}\n"
              f"An organization of {args.campaigns:,} campaigns; the campaign measured has {args.days} days of"
              f" spend, impressions, clicks\n  and streams up to today (and {BASELINE_DAYS} baseline days)."
              f" {WARMUP} warm-up + {args.requests} timed requests per route,\n  alternating, one at a time."
              f" Server: the app's own time (Server-Timing); client: the round trip.\n")
        page, data = trio.run(_measure, url, fixture, args.requests)
        print(f"{'ms':<40}{'server':>9}{'':>9}{'client':>9}{'':>9}{'n':>6}{'bytes':>10}")
        print(f"{'':<40}{'median':>9}{'p90':>9}{'median':>9}{'p90':>9}")
        print(page.line("GET /app/campaigns/<id> (cookie)"))
        print(data.line("GET /v1/analytics/campaigns/{id} (JSON)"))
        median = statistics.median(page.server)
        print(f"\npage / JSON (server medians): {median / statistics.median(data.server):.2f}")
        print(f"target: the page under {TARGET_MS:g} ms of server time: {'met' if median < TARGET_MS else 'MISSED'}"
              f" (median {median:.1f} ms, p90 {_p90(page.server):.1f} ms)")
        print(f"load average (1 min) before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} "
              "(other work on the machine raises every figure)")
    finally:
        if server is not None and (code := server.stop()) != 0:
            print(f"the API server exited with {code}; its log ends:\n{server.tail()}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=REQUESTS, help=f"timed requests per route ({REQUESTS})")
    parser.add_argument("--days", type=int, default=DAYS, help=f"days of the campaign measured ({DAYS})")
    parser.add_argument("--campaigns", type=int, default=CAMPAIGNS, help=f"campaigns of the organization"
                                                                          f" ({CAMPAIGNS:,})")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.data_dir, args.ready))
    with scratch("songtrack-bench-console-", args.dsn) as run:
        measure(run.dsn(), run.root, args)


if __name__ == "__main__":
    main()
