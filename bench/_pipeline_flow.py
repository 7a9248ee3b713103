"""The database half of the pipeline benchmark: samples through the ``Aggregator``, deliveries through the
``WebhookDispatcher``, and the latency from one to the other, each next to its baseline (a raw INSERT of
the same rows, a raw httpx POST to the same receiver). Setup (organizations, campaigns, goals, endpoints) is
plain SQL and the store's own functions, and is not timed. The account actors are in _pipeline_actors.py.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import msgspec
import trio

from actors.aggregator import MAX_BATCH, Aggregator
from actors.webhook_dispatcher import DispatcherConfig, WebhookDispatcher
from bench._pipeline_receiver import Receiver
from config.sections import AlertsSettings
from engine.messages import Metric, MetricSample
from engine.store.database import Database
from engine.store.outbox import enqueue_events
from engine.store.webhooks import NewEndpoint, create_endpoint

__all__ = ["ALERTS", "RULES", "Rate", "deliveries", "latency", "raw_inserts", "raw_post_latency",
           "raw_posts", "through_aggregator"]

# 10 rules per campaign: budget.warning at 4 fractions, pacing, 3 goals, campaign.completed, metrics.updated.
ALERTS = AlertsSettings(budget_thresholds="0.25, 0.5, 0.8, 1.0")
RULES = ("budget.warning at 25/50/80/100 %, pacing, streams/clicks/impressions goals, completed, metrics.updated;"
         " the budget guardrail pauses each campaign once, at 100 %")
METRICS: tuple[Metric, ...] = ("spend_minor", "impressions", "clicks", "streams")
BATCH = MAX_BATCH  # the raw baseline inserts batches of the aggregator's largest size
WARMUP = 0.5
LATENCY_RATE = 20.0  # samples/s in the latency phase: spaced out, so we time one trip, not a queue

_RAW_TABLE = "CREATE TABLE IF NOT EXISTS bench_pipeline_raw (LIKE campaign_daily_facts INCLUDING DEFAULTS)"
_RAW_INSERT = """
INSERT INTO bench_pipeline_raw (campaign_id, organization_id, day, metric, value, source, currency, observed_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                     $8::timestamptz[])
"""


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float
    note: str = ""
    cpu: float = 0.0  # this process's CPU seconds over ``seconds``
    settled: int = 0  # deliveries recorded as succeeded (figure 2)

    def __add__(self, other: Rate) -> Rate:
        """Two measurements of the same thing as one (rounds of figure 2); the notes are dropped."""
        return Rate(self.count + other.count, self.seconds + other.seconds, cpu=self.cpu + other.cpu,
                    settled=self.settled + other.settled)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        """This process's CPU microseconds per item counted."""
        return self.cpu / self.count * 1e6 if self.count else math.nan


def percentile_ms(values: list[float], p: float) -> float:
    """The nearest-rank percentile of ``values`` (seconds) in milliseconds (NaN without a value)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] * 1000


# --- setup --------------------------------------------------------------------------------------------------


async def new_organization(db: Database, name: str) -> uuid.UUID:
    org = await db.fetchval("INSERT INTO organizations (name, tier) VALUES ($1, 'enterprise') RETURNING id", name)
    assert isinstance(org, uuid.UUID)
    return org


async def new_campaigns(db: Database, org: uuid.UUID, count: int, *, budget: int, started_days_ago: int,
                        days: int, goals: int | None) -> list[uuid.UUID]:
    """``count`` active USD campaigns; with ``goals``, a streams, clicks and impressions goal of that target."""
    rows = await db.fetch(
        "INSERT INTO campaigns (organization_id, name, objective, status, budget, currency, start_date, end_date)"
        " SELECT $1, 'Bench ' || g, 'streams', 'active', $2, 'USD', now() - $3 * interval '1 day',"
        "        now() + $4 * interval '1 day' FROM generate_series(1, $5::int) AS g RETURNING id",
        org, budget, started_days_ago, days - started_days_ago, count)
    ids = [row["id"] for row in rows]
    if goals is not None:
        await db.execute("INSERT INTO campaign_goals (campaign_id, metric, target)"
                         " SELECT c, m, $2 FROM unnest($1::uuid[]) AS c,"
                         " unnest(ARRAY['streams', 'clicks', 'impressions']) AS m", ids, goals)
    return ids


async def new_endpoint(db: Database, key: bytes, org: uuid.UUID, url: str, concurrency: int,
                       event_types: list[str]) -> None:
    await create_endpoint(db, key, org, NewEndpoint(url=url, event_types=event_types, max_in_flight=concurrency))


def sample_stream(org: uuid.UUID, campaigns: list[uuid.UUID]) -> Iterator[MetricSample]:
    """Samples that keep changing: round k of campaign c is metric k % 4 of day k // 4 (over 28 days), with a
    value that grows every round, so totals change and thresholds and goals are crossed as the run goes."""
    today = date.today()
    k = 0
    while True:
        metric = METRICS[k % 4]
        day = today - timedelta(days=(k // 4) % 28)
        value = 40 * (k + 1)
        for campaign in campaigns:
            yield MetricSample(organization_id=org, campaign_id=campaign, day=day, metric=metric, value=value,
                               source="meta:bench", observed_at=datetime.now(UTC),
                               currency="USD" if metric == "spend_minor" else None)
        k += 1


# --- 1. samples/s ---------------------------------------------------------------------------------------------


async def through_aggregator(db: Database, samples: Iterator[MetricSample], seconds: float) -> Rate:
    """Samples committed by the aggregator (facts, totals, 10 rules, alerts, outbox) per second, with one
    producer keeping its inbox full; WARMUP seconds are not counted."""
    aggregator = Aggregator(db, ALERTS)
    async with trio.open_nursery() as nursery:
        await nursery.start(aggregator.run)
        with aggregator.sender() as send:
            deadline = trio.current_time() + WARMUP
            while trio.current_time() < deadline:
                await send.send(next(samples))
            written, started = aggregator.samples_written, time.perf_counter()
            deadline = trio.current_time() + seconds
            while trio.current_time() < deadline:
                await send.send(next(samples))
            count, elapsed = aggregator.samples_written - written, time.perf_counter() - started
        aggregator.stop()  # drain what is left, untimed
    return Rate(count, elapsed, f"{aggregator.alerts_fired:,} alerts fired in all")


async def raw_inserts(db: Database, samples: Iterator[MetricSample], seconds: float) -> Rate:
    """The same rows, BATCH at a time, one transaction each, into an index-free copy of the facts table."""
    await db.execute(_RAW_TABLE)
    count, started = 0, time.perf_counter()
    deadline = trio.current_time() + seconds
    while trio.current_time() < deadline:
        rows = [next(samples) for _ in range(BATCH)]
        columns = ([s.campaign_id for s in rows], [s.organization_id for s in rows], [s.day for s in rows],
                   [s.metric for s in rows], [s.value for s in rows], [s.source for s in rows],
                   [s.currency for s in rows], [s.observed_at for s in rows])
        async with db.transaction() as tx:
            await tx.execute(_RAW_INSERT, *columns)
        count += len(rows)
    elapsed = time.perf_counter() - started
    await db.execute("DROP TABLE bench_pipeline_raw")
    return Rate(count, elapsed)


# --- 2. deliveries/s -------------------------------------------------------------------------------------------


def dispatcher(db: Database, key: bytes) -> WebhookDispatcher:
    config = DispatcherConfig(allow_subnets=("127.0.0.0/8",), timeout=10.0, poll_interval=1.0)
    return WebhookDispatcher(db, config, secret_key=key)


async def deliveries(db: Database, key: bytes, receiver: Receiver, events: int, seconds: float,
                     concurrency: int) -> Rate:
    """Enqueue ``events`` events (untimed) for one endpoint at the receiver, then start the dispatcher and
    count what the receiver gets until all arrived or ``seconds`` passed; then, untimed, the rest."""
    org = await new_organization(db, "Bench deliveries")
    await new_endpoint(db, key, org, f"{receiver.url}/hook", concurrency, [])
    for first in range(0, events, 500):
        await enqueue_events(db, [(org, "metrics.updated", {"n": n, "metrics": {"streams": n}})
                                  for n in range(first, min(events, first + 500))], now=datetime.now(UTC))
    before = receiver.count
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher(db, key).run)
        started, cpu = time.perf_counter(), time.process_time()
        with trio.move_on_after(seconds):
            # A poll, not an Event: the receiver only counts, and a 5 ms step is finer than we report.
            while receiver.count - before < events:  # noqa: ASYNC110
                await trio.sleep(0.005)
        count, elapsed, cpu = receiver.count - before, time.perf_counter() - started, time.process_time() - cpu
        # Untimed: let it deliver the rest and record the last attempts, so that we stop an idle dispatcher
        # (cancelling one mid-delivery left a pooled connection busy at the pool's close; see the report).
        with trio.move_on_after(60):
            while receiver.count - before < events:  # noqa: ASYNC110 -- as above
                await trio.sleep(0.01)
        await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    done = await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE organization_id = $1"
                             " AND status = 'succeeded'", org)
    assert isinstance(done, int)
    return Rate(count, elapsed, cpu=cpu, settled=done)


def _envelope(n: int) -> bytes:
    return msgspec.json.encode({"id": f"evt_{n:026x}", "type": "metrics.updated",
                                "timestamp": datetime.now(UTC).isoformat(), "data": {"n": n}})


async def raw_posts(receiver: Receiver, seconds: float, concurrency: int) -> Rate:
    """``concurrency`` tasks POSTing an unsigned envelope back to back with one httpx.AsyncClient."""
    count = 0
    deadline = trio.current_time() + seconds

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal count
        while trio.current_time() < deadline:
            response = await http.post(f"{receiver.url}/hook", content=_envelope(count),
                                       headers={"content-type": "application/json"})
            count += response.status_code == 200

    started, cpu = time.perf_counter(), time.process_time()
    async with httpx.AsyncClient(timeout=10) as http, trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker, http)
    return Rate(count, time.perf_counter() - started, cpu=time.process_time() - cpu)


# --- 3. latency --------------------------------------------------------------------------------------------------


async def latency(db: Database, key: bytes, receiver: Receiver, seconds: float, concurrency: int) -> list[float]:
    """Seconds from handing a sample to the aggregator to its budget.warning webhook arriving, one sample per
    campaign every 1/LATENCY_RATE s; campaigns whose webhook never came are left out (``missing``)."""
    count = max(20, int(seconds * LATENCY_RATE))
    org = await new_organization(db, "Bench latency")
    await new_endpoint(db, key, org, f"{receiver.url}/hook", concurrency, ["budget.warning"])
    # 30 USD of 100, one day into two: crosses 25 % only, and projects 60 USD, so no pacing alert.
    campaigns = await new_campaigns(db, org, count, budget=100, started_days_ago=1, days=2, goals=None)
    sent: dict[str, float] = {}
    aggregator = Aggregator(db, ALERTS)
    async with trio.open_nursery() as nursery:
        await nursery.start(aggregator.run)
        await nursery.start(dispatcher(db, key).run)
        with aggregator.sender() as send:
            for campaign in campaigns:
                sample = MetricSample(organization_id=org, campaign_id=campaign, day=date.today(),
                                      metric="spend_minor", value=3000, source="meta:bench",
                                      observed_at=datetime.now(UTC), currency="USD")
                sent[str(campaign)] = time.monotonic()  # the receiver's clock: it is another process
                await send.send(sample)
                await trio.sleep(1 / LATENCY_RATE)
        with trio.move_on_after(10):
            while not sent.keys() <= receiver.arrivals.keys():  # noqa: ASYNC110 -- as in deliveries()
                await trio.sleep(0.01)
        await trio.sleep(0.5)  # the dispatcher records the last attempts: we stop it idle
        nursery.cancel_scope.cancel()
    arrivals = receiver.arrivals
    return [arrivals[c] - at for c, at in sent.items() if c in arrivals]


async def raw_post_latency(receiver: Receiver, count: int) -> list[float]:
    """Round trips of one unsigned POST at a time, with one httpx.AsyncClient."""
    latencies = []
    async with httpx.AsyncClient(timeout=10) as http:
        for n in range(count):
            started = trio.current_time()
            await http.post(f"{receiver.url}/hook", content=_envelope(n), headers={"content-type": "application/json"})
            latencies.append(trio.current_time() - started)
            await trio.sleep(1 / LATENCY_RATE)
    return latencies


def keygen() -> bytes:
    """A fresh token-encryption key (32 random bytes, like ``config.Keys``)."""
    return os.urandom(32)
