"""The database half of the rules benchmark: the generated campaigns written to PostgreSQL (untimed: plain
unnest INSERTs and the store's ``create_rule``), then the ``RuleEvaluator`` on all of them, next to the
``Aggregator``'s batch (``write_batch``, no rule evaluator listening) over one sample per campaign.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from actors.aggregator import MAX_BATCH, Aggregator
from actors.rule_evaluator import RuleEvaluator
from bench._rules_data import ALERTS, BUDGET_MINOR, GOAL, Campaign, Timed
from config.sections import AnalyticsSettings, RulesSettings
from engine.messages import MetricSample
from engine.rules.model import RuleSpec
from engine.store.database import Database
from engine.store.rules import create_rule

__all__ = ["SOURCE", "aggregator_batches", "evaluate_all", "evaluate_once", "write_campaigns", "write_rules"]

SOURCE = "meta:bench"
BATCH = MAX_BATCH
_ROWS = 30_000  # rows per setup INSERT

_TRACKS = ("INSERT INTO tracks (id, organization_id, title, artist)"
           " SELECT t, $1, 'Bench', 'Bench' FROM unnest($2::uuid[]) t")
_CAMPAIGNS = """
INSERT INTO campaigns (id, organization_id, name, objective, status, budget, currency, start_date, end_date, track_id)
SELECT c, $1, 'Bench ' || c, 'streams', 'active', $2, 'USD', s, e, t
FROM unnest($3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::uuid[]) AS u(c, s, e, t)
"""
_GOALS = ("INSERT INTO campaign_goals (campaign_id, metric, target) SELECT c, m, $2 FROM unnest($1::uuid[]) AS c,"
          " unnest(ARRAY['streams', 'clicks', 'impressions']) AS m")
_FACTS = """
INSERT INTO campaign_daily_facts (campaign_id, organization_id, day, metric, value, source, currency, observed_at)
SELECT c, $1, d, m, v, $2, CASE WHEN m = 'spend_minor' THEN 'USD' END, $3
FROM unnest($4::uuid[], $5::date[], $6::text[], $7::bigint[]) AS u(c, d, m, v)
"""
_STREAMS = """
INSERT INTO track_report_days (track_id, organization_id, day, streams, source)
SELECT t, $1, d, s, 'bench' FROM unnest($2::uuid[], $3::date[], $4::bigint[]) AS u(t, d, s)
"""


async def _chunked(db: Database, sql: str, head: Sequence[object], rows: Sequence[tuple[object, ...]]) -> None:
    for first in range(0, len(rows), _ROWS):
        columns = [list(column) for column in zip(*rows[first:first + _ROWS], strict=True)]
        await db.execute(sql, *head, *columns)


async def write_campaigns(db: Database, org: uuid.UUID, items: list[Campaign]) -> None:
    """The campaigns (active, 3,000 USD, three goals), their tracks, daily facts and tracks' stream days."""
    tracks = [c.track_id for c in items if c.track_id is not None]
    await db.execute(_TRACKS, org, tracks)
    await db.execute(_CAMPAIGNS, org, Decimal(BUDGET_MINOR) / 100, [c.id for c in items],
                     [c.start for c in items], [c.end for c in items], [c.track_id for c in items])
    await db.execute(_GOALS, [c.id for c in items], GOAL)
    facts = [(c.id, day, metric, getattr(ad, metric)) for c in items for day, ad in c.ad_days.items()
             for metric in ("spend_minor", "impressions", "clicks")]
    await _chunked(db, _FACTS, (org, SOURCE, datetime.now(UTC)), facts)
    streams = [(c.track_id, day, v) for c in items if c.track_id is not None for day, v in c.stream_days.items()]
    await _chunked(db, _STREAMS, (org,), streams)
    await db.execute("ANALYZE")


async def write_rules(db: Database, org: uuid.UUID, specs: list[RuleSpec]) -> None:
    """The rules, active, through the store, created a microsecond apart (their evaluation order)."""
    created = datetime.now(UTC)
    for n, spec in enumerate(specs):
        await create_rule(db, org, name=f"Bench rule {n + 1}", description=None, status="active", dry_run=False,
                          spec=spec, created_by=None, now=created + timedelta(microseconds=n))


async def aggregator_batches(db: Database, org: uuid.UUID, items: list[Campaign], value_step: int,
                             hours_ago: int = 0) -> Timed:
    """One sample per campaign (today's clicks, ``value_step`` above the generated figure) through
    ``Aggregator.write_batch``, BATCH per transaction, as the aggregator writes them: facts, totals, alert
    rules, alerts, notifications, outbox and guardrail; the batches' ``now`` is ``hours_ago`` back."""
    aggregator = Aggregator(db, ALERTS)
    now = datetime.now(UTC)  # observed now: a sample observed before the stored fact would be skipped
    samples = [MetricSample(organization_id=org, campaign_id=c.id, day=max(c.ad_days), metric="clicks",
                            value=c.ad_days[max(c.ad_days)].clicks + value_step, source=SOURCE, observed_at=now)
               for c in items]
    fired, started = 0, time.perf_counter()
    for first in range(0, len(samples), BATCH):
        async with db.transaction() as tx:
            batch_now = datetime.now(UTC) - timedelta(hours=hours_ago)
            fired += len(await aggregator.write_batch(tx, samples[first:first + BATCH], batch_now))
    return Timed(len(samples), time.perf_counter() - started, fired)


def _evaluator(db: Database) -> RuleEvaluator:
    return RuleEvaluator(db, RulesSettings(), AnalyticsSettings())


async def evaluate_once(db: Database, org: uuid.UUID, items: list[Campaign]) -> Timed:
    """``RuleEvaluator.evaluate`` of the organization's rules on all its campaigns (what follows a batch)."""
    evaluator = _evaluator(db)
    ids = sorted(c.id for c in items)
    started = time.perf_counter()
    await evaluator.evaluate(org, ids)
    return Timed(evaluator.evaluations, time.perf_counter() - started, evaluator.firings)


async def evaluate_all(db: Database) -> Timed:
    """One scheduled round: ``RuleEvaluator.evaluate_all`` (every active rule, the campaigns it applies to)."""
    evaluator = _evaluator(db)
    started = time.perf_counter()
    await evaluator.evaluate_all()
    return Timed(evaluator.evaluations, time.perf_counter() - started, evaluator.firings)
