"""Daily metric facts and the running totals derived from them: the aggregator's writes, in its transaction.

A fact is one absolute daily figure under (campaign, day, metric, source). Storing a sample replaces the
figure unless what is stored was observed later, so re-polls, restatements and samples arriving out of
order never double count. A campaign's totals are always recomputed from its facts (a sum over days and
sources), never incremented. We do not evaluate rules or fire alerts here: that is the aggregator's job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from engine.guardrail import Guardrail
from engine.messages import MetricSample
from engine.money import ZERO_DECIMAL_CURRENCIES
from engine.store.catalog_common import Executor

__all__ = [
    "CampaignTotals",
    "DailyFact",
    "daily_facts",
    "ended_running",
    "last_observed",
    "recompute_totals",
    "upsert_samples",
]

log = logging.getLogger(__name__)


class CampaignTotals(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign after its totals were recomputed: what the rules need. Money is in major units.

    ``changed`` says whether any total differs from before; ``foreign_currencies`` lists the currencies of
    spend facts left out because they are not the campaign's; ``guardrail`` is the campaign's own.
    """

    campaign_id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: str
    currency: str
    budget: Decimal
    budget_spent: Decimal
    impressions: int
    clicks: int
    streams: int
    start_date: datetime
    end_date: datetime
    goals: dict[str, int]
    changed: bool
    foreign_currencies: list[str]
    guardrail: Guardrail = Guardrail()


class DailyFact(msgspec.Struct, frozen=True, kw_only=True):
    """One (day, metric) of a campaign, summed over its sources."""

    day: date
    metric: str
    value: int


_Key = tuple[uuid.UUID, date, str, str]

# Samples whose campaign is gone or belongs to another organization are left out by the join: a deleted
# campaign must not crash the aggregator on a foreign key, and a sample never writes across organizations.
_UPSERT = """
WITH written AS (
INSERT INTO campaign_daily_facts AS f (campaign_id, organization_id, day, metric, value, source, currency,
                                       observed_at)
SELECT s.campaign_id, s.organization_id, s.day, s.metric, s.value, s.source, s.currency, s.observed_at
FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::bigint[], $6::text[], $7::text[],
            $8::timestamptz[]) AS s (campaign_id, organization_id, day, metric, value, source, currency,
                                     observed_at)
JOIN campaigns c ON c.id = s.campaign_id AND c.organization_id = s.organization_id
ON CONFLICT (campaign_id, day, metric, source) DO UPDATE
    SET value = EXCLUDED.value, currency = EXCLUDED.currency, observed_at = EXCLUDED.observed_at,
        updated_at = now()
    WHERE f.observed_at <= EXCLUDED.observed_at
RETURNING f.campaign_id
)
SELECT DISTINCT campaign_id FROM written  -- a batch holds many facts of each campaign
"""


async def upsert_samples(q: Executor, samples: Iterable[MetricSample]) -> set[uuid.UUID]:
    """Store ``samples``, each replacing the stored fact of its key unless that one was observed later.

    Within ``samples`` the latest ``observed_at`` of a key wins (the later one in the batch on a tie).
    Returns the campaigns whose facts changed. Samples of a campaign that is missing or not in the
    sample's organization are skipped and logged. Runs in ``q``'s transaction when ``q`` is a connection.
    """
    latest: dict[_Key, MetricSample] = {}
    for sample in samples:
        key = (sample.campaign_id, sample.day, sample.metric, sample.source)
        kept = latest.get(key)
        if kept is None or kept.observed_at <= sample.observed_at:
            latest[key] = sample
    if not latest:
        return set()
    rows = list(latest.values())
    columns = (
        [s.campaign_id for s in rows], [s.organization_id for s in rows], [s.day for s in rows],
        [s.metric for s in rows], [s.value for s in rows], [s.source for s in rows],
        [s.currency.upper() if s.currency else None for s in rows], [s.observed_at for s in rows],
    )  # fmt: skip
    records = await q.fetch(_UPSERT, *columns)
    touched = {record["campaign_id"] for record in records}
    orphans = {s.campaign_id for s in rows} - touched
    if orphans:
        known = await q.fetch("SELECT id FROM campaigns WHERE id = ANY($1::uuid[])", list(orphans))
        missing = orphans - {record["id"] for record in known}
        if missing:
            log.warning("skipped samples of %d campaigns that are missing or in another organization",
                        len(missing))
    return touched


# Every part of the statement reads one snapshot, so ``old`` holds the values from before the UPDATE.
_RECOMPUTE = """
WITH sums AS (
    SELECT c.id,
           COALESCE(sum(f.value) FILTER (WHERE f.metric = 'spend_minor'
                                         AND f.currency = upper(c.currency::text)), 0) AS spend_minor,
           COALESCE(sum(f.value) FILTER (WHERE f.metric = 'impressions'), 0) AS impressions,
           COALESCE(sum(f.value) FILTER (WHERE f.metric = 'clicks'), 0) AS clicks,
           COALESCE(sum(f.value) FILTER (WHERE f.metric = 'streams'), 0) AS streams,
           -- Not DISTINCT (the caller dedupes): an ordered aggregate would sort every fact read.
           COALESCE(array_agg(COALESCE(f.currency, '')) FILTER (
               WHERE f.metric = 'spend_minor' AND f.currency IS DISTINCT FROM upper(c.currency::text)),
               '{}') AS foreign_currencies
    FROM campaigns c LEFT JOIN campaign_daily_facts f ON f.campaign_id = c.id
    WHERE c.id = ANY($1::uuid[])
    GROUP BY c.id
), old AS (
    SELECT id, budget_spent, impressions, clicks, streams FROM campaigns WHERE id = ANY($1::uuid[])
)
UPDATE campaigns c
SET budget_spent = s.spend_minor / (CASE WHEN upper(c.currency::text) = ANY($2::text[]) THEN 1 ELSE 100 END),
    impressions = s.impressions, clicks = s.clicks, streams = s.streams
FROM sums s, old o
WHERE c.id = s.id AND o.id = s.id
RETURNING c.id AS campaign_id, c.organization_id, c.name, c.status, c.currency::text AS currency, c.budget,
          c.budget_spent, c.impressions, c.clicks, c.streams, c.start_date, c.end_date,
          (o.budget_spent, o.impressions, o.clicks, o.streams)
              IS DISTINCT FROM (c.budget_spent, c.impressions, c.clicks, c.streams) AS changed,
          s.foreign_currencies, c.guardrail_enabled, c.guardrail_percent,
          COALESCE((SELECT jsonb_object_agg(g.metric, g.target) FROM campaign_goals g
                    WHERE g.campaign_id = c.id), '{}')::text AS goals
"""

_goals = msgspec.json.Decoder(dict[str, int])


async def ended_running(q: Executor, now: datetime) -> list[uuid.UUID]:
    """Active or paused campaigns whose end date has passed: the aggregator's periodic sweep gives them
    their last evaluation, and completes them, even when no sample comes."""
    rows = await q.fetch("SELECT id FROM campaigns WHERE status IN ('active', 'paused') AND end_date <= $1"
                         " ORDER BY id LIMIT 500", now)
    return [row["id"] for row in rows]


async def last_observed(q: Executor, source: str) -> datetime | None:
    """The newest ``observed_at`` of any fact from ``source`` (``None``: it has written none): where a
    producer that replays from a durable log resumes after a restart."""
    value = await q.fetchval("SELECT max(observed_at) FROM campaign_daily_facts WHERE source = $1", source)
    assert value is None or isinstance(value, datetime)
    return value


async def recompute_totals(q: Executor, campaign_ids: Iterable[uuid.UUID]) -> list[CampaignTotals]:
    """Recompute and store the running totals of ``campaign_ids`` from their facts; return them.

    Spend counts only facts in the campaign's currency, converted from minor to major units (1 or 100 per
    unit, as Meta does); the others are named in ``foreign_currencies`` (the caller logs them). The
    campaign rows stay locked until ``q``'s transaction ends. Missing campaigns are left out.
    """
    ids = sorted(set(campaign_ids))  # a fixed lock order: two writers never deadlock on the same rows
    if not ids:
        return []
    records = await q.fetch(_RECOMPUTE, ids, sorted(ZERO_DECIMAL_CURRENCIES))
    return [_totals(record) for record in records]


def _totals(r: asyncpg.Record) -> CampaignTotals:
    return CampaignTotals(
        campaign_id=r["campaign_id"], organization_id=r["organization_id"], name=r["name"], status=r["status"],
        currency=r["currency"].strip(), budget=r["budget"], budget_spent=r["budget_spent"],
        impressions=r["impressions"], clicks=r["clicks"], streams=r["streams"], start_date=r["start_date"],
        end_date=r["end_date"], goals=_goals.decode(r["goals"]), changed=r["changed"],
        foreign_currencies=sorted(set(r["foreign_currencies"])),
        guardrail=Guardrail(enabled=r["guardrail_enabled"], percent=r["guardrail_percent"]),
    )  # fmt: skip


async def daily_facts(q: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, since: date | None = None,
                      metrics: Sequence[str] = ()) -> list[DailyFact]:
    """The organization's campaign's daily figures summed over sources, by day then metric.

    Spend is in minor units of whatever currency each source reported; only facts from ``since`` on and
    of ``metrics`` (all when empty) are returned. Another organization's campaign has no facts.
    """
    records = await q.fetch(
        "SELECT day, metric, sum(value)::bigint AS value FROM campaign_daily_facts"
        " WHERE organization_id = $1 AND campaign_id = $2 AND ($3::date IS NULL OR day >= $3)"
        " AND (cardinality($4::text[]) = 0 OR metric = ANY($4::text[]))"
        " GROUP BY day, metric ORDER BY day, metric",
        org_id, campaign_id, since, list(metrics),
    )  # fmt: skip
    return [DailyFact(day=r["day"], metric=r["metric"], value=r["value"]) for r in records]
