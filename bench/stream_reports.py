"""Benchmark: stream-report imports, campaign analytics and exports, each against a baseline measured in
the same run.

- **Import**: a generated DistroKid TSV of ``--rows`` lines through the real import path
  (``adapters.stream_reports.importer``: parse, then 1,000-row transactions with progress) against the same
  parsed rows inserted by a bare ``unnest`` INSERT into a copy of the table (keys of the same length, no
  conflict check, no import bookkeeping), 1,000 per statement, on one connection: what any import must at
  least do. Parsing alone is timed too.
- **Analytics**: ``campaign_analytics`` for a campaign with a year of daily facts and stream days,
  against the two bare SELECTs that read the same rows (the least a route must do).
- **Exports**: rendering that year's report as CSV, XLSX and PDF (no baseline: the files are the work).

Usage: .venv/bin/python bench/stream_reports.py [--rows N] [--dsn DSN]

Without --dsn it starts a throwaway embedded PostgreSQL (fsync off) and applies the migrations.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from adapters.stream_reports import parse_report
from adapters.stream_reports.importer import load, prepare
from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.exports import render
from engine.messages import MetricSample
from engine.store import EmbeddedPostgres, apply_migrations, facts, imports, open_database, tracks
from engine.store.campaigns import NewCampaign, create_campaign
from engine.store.database import Database

HEADER = ("Reporting Date\tSale Month\tStore\tArtist\tTitle\tISRC\tUPC\tQuantity\tTeam Percentage\tSong/Album"
          "\tCountry of Sale\tSongwriter Royalties Withheld\tEarnings (USD)")
STORES = ("Spotify", "Apple Music", "YouTube Music", "Deezer", "Tidal", "Amazon Music")
COUNTRIES = ("US", "GB", "DE", "FR", "SE", "BR", "MX", "JP", "AU", "CA")


def distrokid_tsv(rows: int, isrcs: list[str]) -> bytes:
    rng = random.Random(7)
    lines = [HEADER]
    for n in range(rows):
        month = date(2024, 1, 1) + timedelta(days=31 * (n % 24))
        lines.append("\t".join((
            "2026-03-05", f"{month:%Y-%m}", rng.choice(STORES), "Zoé Marchand", f"Song {n % len(isrcs)}",
            isrcs[n % len(isrcs)], "859712345678", str(rng.randint(1, 5000)), "100", "Song", rng.choice(COUNTRIES),
            "0", f"{rng.random() * 20:.8f}")))
    return ("\n".join(lines) + "\n").encode("iso-8859-1")


async def bench_import(db: Database, org: uuid.UUID, rows: int) -> None:
    isrcs = [f"QZES7250{n:04d}" for n in range(50)]
    for n, isrc in enumerate(isrcs):
        await tracks.create_track(db, org, tracks.NewTrack(title=f"Song {n}", artist="Zoé Marchand", isrc=isrc))
    data = distrokid_tsv(rows, isrcs)
    began = time.perf_counter()
    report = parse_report(data, "distrokid.tsv")
    parse_s = time.perf_counter() - began
    began = time.perf_counter()
    prepared = await prepare(db, org, data, "distrokid.tsv")
    prepared_s = time.perf_counter() - began
    done = await load(db, org, prepared)
    ours_s = time.perf_counter() - began
    assert done.imported_rows == rows, done
    await db.execute("CREATE TABLE bench_sales (LIKE distributor_sales INCLUDING ALL)")
    # Keys as long as ours (a SHA-256 and an occurrence), so both indexes are the same size.
    keys = [f"{hashlib.sha256(str(n).encode()).hexdigest()}#1" for n in range(rows)]
    began = time.perf_counter()
    for start in range(0, rows, 1000):
        part = report.rows[start:start + 1000]
        await db.execute(
            "INSERT INTO bench_sales (organization_id, line_key, reporting_date, sale_month, store, artist, title,"
            " isrc, upc, quantity, country, earnings_usd) SELECT $1, * FROM unnest($2::text[], $3::date[],"
            " $4::date[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[],"
            " $12::numeric[])", org, keys[start:start + len(part)],
            *([getattr(r, name) for r in part] for name in ("reporting_date", "sale_month", "store", "artist",
                                                            "title", "isrc", "upc", "quantity", "country",
                                                            "earnings_usd")))
    bare_s = time.perf_counter() - began
    print(f"import of {rows:,} DistroKid lines ({len(data) / 1e6:.1f} MB):")
    print(f"  parse only         {parse_s:6.2f} s  {rows / parse_s:10,.0f} rows/s")
    print(f"  ours (parse+store) {ours_s:6.2f} s  {rows / ours_s:10,.0f} rows/s   (prepare {prepared_s:.2f} s)")
    print(f"  bare unnest INSERT {bare_s:6.2f} s  {rows / bare_s:10,.0f} rows/s   ours/bare {bare_s / ours_s:.2f}")


async def bench_analytics(db: Database, org: uuid.UUID, repeat: int = 20) -> None:
    track = await tracks.create_track(db, org, tracks.NewTrack(title="Year", artist="Ana"))
    first = date(2026, 1, 1)
    campaign = await create_campaign(db, org, NewCampaign(
        name="A year", objective="streams", budget=100_000.0, currency="USD", track_id=track.id,
        start_date=datetime(2026, 1, 29, tzinfo=UTC), end_date=datetime(2026, 12, 31, 23, tzinfo=UTC)))
    days = [first + timedelta(days=n) for n in range(365)]
    await imports.upsert_track_days(db, org, None, "s4a", [
        imports.TrackDay(track_id=track.id, day=d, streams=1000 + n % 97) for n, d in enumerate(days)])
    observed = datetime(2027, 1, 2, tzinfo=UTC)
    await facts.upsert_samples(db, [
        MetricSample(organization_id=org, campaign_id=campaign.id, day=d, metric=m, value=v, source="meta:1",
                     observed_at=observed, currency="USD" if m == "spend_minor" else None)
        for d in days[28:] for m, v in (("spend_minor", 25_000), ("impressions", 40_000), ("clicks", 700))])
    rules, now = AnalyticsRules(), datetime(2027, 1, 2, tzinfo=UTC)

    async def ours() -> object:
        return await campaign_analytics(db, org, campaign.id, start=None, end=None, granularity="day", rules=rules,
                                        now=now)

    async def bare() -> object:
        await db.fetch("SELECT day, metric, sum(value) FROM campaign_daily_facts WHERE organization_id = $1"
                       " AND campaign_id = $2 GROUP BY 1, 2", org, campaign.id)
        return await db.fetch("SELECT day, streams FROM track_day_streams WHERE track_id = $1", track.id)

    timings = {}
    for name, call in (("ours", ours), ("bare", bare)):
        await call()
        began = time.perf_counter()
        for _ in range(repeat):
            await call()
        timings[name] = (time.perf_counter() - began) / repeat * 1000
    print(f"campaign analytics, a year of days ({repeat} calls each):")
    print(f"  ours {timings['ours']:7.1f} ms   bare SELECTs {timings['bare']:7.1f} ms   "
          f"ours/bare {timings['ours'] / timings['bare']:.2f}x the time")
    report = await ours()
    print("export of that year (render only):")
    for fmt in ("csv", "xlsx", "pdf"):
        began = time.perf_counter()
        content = render(report, fmt)  # type: ignore[arg-type]
        print(f"  {fmt:4} {1000 * (time.perf_counter() - began):7.1f} ms  {len(content) / 1024:7.1f} KB")


async def measure(dsn: str, rows: int) -> None:
    async with open_database(dsn, max_size=4) as db:
        await apply_migrations(db)
        org = await db.fetchval("INSERT INTO organizations (name) VALUES ('bench') RETURNING id")
        await bench_import(db, org, rows)
        await bench_analytics(db, org)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="DistroKid lines to import (default 100,000)")
    parser.add_argument("--dsn", help="an existing, empty database (default: a throwaway embedded server)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="songtrack-bench-reports-"))
    root.chmod(0o755)  # as root, PostgreSQL runs as another account, which must reach its data
    postgres = None if args.dsn else EmbeddedPostgres(root / "pg", database="bench", fsync=False)
    try:
        trio.run(measure, args.dsn if postgres is None else postgres.start(), args.rows)
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
