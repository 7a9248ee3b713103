"""Benchmark: the rules that act (docs/rules.md), R rules x N campaigns (default 10 x 10,000), each figure next
to the aggregator's work without rules on the same campaigns, measured in the same run.

Usage: .venv/bin/python bench/rules.py [--campaigns N] [--rules R] [--dsn DSN] [--skip-db]

How: the campaigns are generated in memory (bench/_rules_data.py: about 30 ad days and, for 99 in 100, 61
stream days of their track, the baseline included; a few outliers per thousand that some rule fires on). The
rules are RULE_JSON there: spend, CTR, CPM, pacing, budget used, streams, cost per stream, cost per
incremental stream, a figure against a figure, an any and an all, over windows of 24 h to a week.

1. Pure: ``engine.rules.decide.decide`` for every rule on every campaign, inputs built untimed. Baseline: the
   aggregator's pure alert evaluation (``engine.alert_rules.evaluate``, 10 alert rules: 4 budget
   thresholds, pacing, 3 goals, completed, metrics.updated) on the same campaigns.
2. With the database: the same campaigns written to PostgreSQL (one organization, active, their daily facts
   and their tracks' stream days) with R active rules made by the store's ``create_rule``, all untimed.
   Baseline: ``Aggregator.write_batch`` (facts, totals, alert rules, alerts, outbox, guardrail; no rule
   evaluator listening) over one sample per campaign, 256 per transaction; a first untimed pass, an hour
   back, fires the alerts a campaign fires once, so the timed one is a steady batch (each campaign's
   metrics.updated, as every poll's batch fires it). Then ``RuleEvaluator.evaluate`` of the
   organization's rules on all its campaigns (what follows the aggregator's batches), then one scheduled
   round (``evaluate_all``), in which the rules that fired are cooling down.

Without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations; with it, the
migrations are applied to that database and our rows (an organization named "Bench rules") are left there.
Everything shares this machine's cores with PostgreSQL: compare the ratios between runs more than the
absolute figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench import _rules_data as data
from bench import _rules_db as rules_db
from bench._pipeline_flow import new_organization
from bench._scratch import scratch
from engine.store import apply_migrations, open_database


def _line(label: str, ours: str, baseline: str, ratio: str = "") -> None:
    print(f"{label:<46}{ours:>14}{baseline:>14}{ratio:>8}", flush=True)


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.3f}" if baseline else "-"


def _rates(label: str, ours: float, baseline: float) -> None:
    _line(label, f"{ours:,.0f}", f"{baseline:,.0f}", _ratio(ours, baseline))


def _pure(campaigns: list[data.Campaign], rules: int, now: datetime) -> None:
    ours = data.pure_rules(data.rule_specs(rules), campaigns, now)
    base = data.pure_alerts(campaigns, now)
    _rates("1. pure: campaigns/s (all rules on each)", len(campaigns) / ours.seconds, base.per_second)
    _rates("   pure: rule evaluations/s", ours.per_second, base.per_second * data.ALERT_RULES)
    print(f"   {ours.count:,} decisions in {ours.seconds:.2f} s, {ours.fired:,} would fire; baseline: "
          f"alert_rules.evaluate x {len(campaigns):,} in {base.seconds:.2f} s ({data.ALERT_RULES} alert rules "
          f"each, {base.fired:,} firings)", flush=True)


async def _with_db(dsn: str, campaigns: list[data.Campaign], rules: int) -> None:
    async with open_database(dsn, min_size=2, max_size=4) as db:
        await apply_migrations(db)
        print(f"   PostgreSQL {await db.fetchval('SHOW server_version')}; writing {len(campaigns):,} campaigns "
              f"and {rules} rules (untimed) ...", flush=True)
        started = time.perf_counter()
        org = await new_organization(db, "Bench rules")
        await rules_db.write_campaigns(db, org, campaigns)
        await rules_db.write_rules(db, org, data.rule_specs(rules))
        # Untimed: the alerts fired once per campaign (its 25 % warning) fire here, an hour back, so that the
        # timed pass is a steady batch whose only alert is each campaign's metrics.updated (polls come every
        # 15 minutes, so every batch fires it: it fires at most once a minute).
        await rules_db.aggregator_batches(db, org, campaigns, 1, hours_ago=1)
        print(f"   ... set up in {time.perf_counter() - started:.0f} s", flush=True)
        base = await rules_db.aggregator_batches(db, org, campaigns, 2)
        once = await rules_db.evaluate_once(db, org, campaigns)
        round_ = await rules_db.evaluate_all(db)
    n = len(campaigns)
    _rates("2. database: campaigns/s (evaluator vs batch)", n / once.seconds, base.per_second)
    _rates("   database: rule evaluations/s", once.per_second, base.per_second * data.ALERT_RULES)
    _line("   one scheduled round evaluate_all (s)", f"{round_.seconds:,.2f}", f"{base.seconds:,.2f}",
          _ratio(round_.seconds, base.seconds))
    print(f"   evaluate: {once.count:,} rule evaluations in {once.seconds:.2f} s, {once.fired:,} fired; "
          f"evaluate_all: {round_.count:,} in {round_.seconds:.2f} s, {round_.fired:,} fired (the others cool "
          f"down);\n   baseline: Aggregator.write_batch, {n:,} samples in {rules_db.BATCH}-sample "
          f"transactions, {base.seconds:.2f} s, {base.fired:,} alerts (its {data.ALERT_RULES} alert rules each)",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--campaigns", type=int, default=10_000, help="campaigns (default 10000)")
    parser.add_argument("--rules", type=int, default=10, help="active rules (default 10; more repeat the 10)")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded server)")
    parser.add_argument("--skip-db", action="store_true", help="only the pure evaluation (figure 1)")
    args = parser.parse_args()
    if args.campaigns < 1 or args.rules < 1:
        parser.error("--campaigns and --rules must be at least 1")
    now = datetime.now(UTC)
    campaigns = data.campaigns(args.campaigns, now)
    print(f"{args.rules} rules x {args.campaigns:,} campaigns, {os.cpu_count()} CPUs\n")
    _line("figure", "ours", "baseline", "ratio")
    with scratch("songtrack-bench-rules-", args.dsn) as run:
        _pure(campaigns, args.rules, now)
        if not args.skip_db:
            trio.run(_with_db, run.dsn(), campaigns, args.rules)


if __name__ == "__main__":
    main()
