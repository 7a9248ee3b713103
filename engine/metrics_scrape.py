"""One scrape of ``/metrics``: the instruments every process counted (``engine/metrics.py``) and the figures
read from PostgreSQL at that moment (the webhook outbox, the actors of every live engine node, this process's
connection pool).

The database's figures are a few cheap queries under a short deadline. A scrape never fails for the
database: when it is down or slow, ``songtrack_database_up`` is 0 and the figures it would have given are
absent, while everything counted in memory is still there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import trio
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from engine.store import nodes, webhook_deliveries
from engine.store.database import Database

__all__ = ["SCRAPE_DEADLINE", "database_figures", "exposition"]

log = logging.getLogger(__name__)

# Well inside Prometheus' default scrape timeout (10 s), so a slow database costs a gap, not the scrape.
SCRAPE_DEADLINE = 2.0


async def database_figures(db: Database | None, *, deadline: float = SCRAPE_DEADLINE) -> list[Metric]:
    """The gauges read from the database now; with ``db`` None (still starting) or a query that fails or
    misses ``deadline`` (seconds), only ``songtrack_database_up`` 0 and this process's pool, if it has one."""
    up = GaugeMetricFamily("songtrack_database_up", "1 when this scrape's queries to PostgreSQL succeeded, else 0.")
    figures: list[Metric] = [up]
    if db is None:
        up.add_metric([], 0)
        return figures
    figures += _pool(db)
    try:
        with trio.fail_after(deadline):
            pending, oldest = await webhook_deliveries.pending_backlog(db)
            actors = await nodes.actor_counts(db)
    except Exception as exc:  # the scrape reports the outage (database_up 0) rather than failing with it
        log.warning("metrics: the database's figures are missing from this scrape: %s", exc)
        up.add_metric([], 0)
        return figures
    up.add_metric([], 1)
    return figures + _outbox(pending, oldest) + [_actors(actors)]


def _pool(db: Database) -> list[Metric]:
    size, idle, most = db.pool_connections()
    connections = GaugeMetricFamily(
        "songtrack_database_pool_connections", "The answering process's pooled PostgreSQL connections, by state.",
        labels=["state"])
    connections.add_metric(["in_use"], size - idle)
    connections.add_metric(["idle"], idle)
    return [connections, GaugeMetricFamily("songtrack_database_pool_max_connections",
                                           "The most connections the answering process's pool opens.", value=most)]


def _outbox(pending: int, oldest: float | None) -> list[Metric]:
    figures: list[Metric] = [GaugeMetricFamily(
        "songtrack_webhook_outbox_pending", "Webhook deliveries waiting for a first or a further attempt.",
        value=pending)]
    if oldest is not None:  # no pending delivery has no age: absent rather than a made-up 0
        figures.append(GaugeMetricFamily(
            "songtrack_webhook_outbox_oldest_pending_age_seconds",
            "Seconds since the oldest pending webhook delivery was enqueued.", value=oldest))
    return figures


def _actors(counts: dict[tuple[str, str], int]) -> Metric:
    family = GaugeMetricFamily("songtrack_actors", "Actors of the live engine processes, by kind and state.",
                               labels=["kind", "state"])
    for (kind, state), count in sorted(counts.items()):
        family.add_metric([kind, state], count)
    return family


class _Given:
    """A collector of figures already read (prometheus_client collects synchronously, our queries are async)."""

    def __init__(self, figures: Sequence[Metric]) -> None:
        self._figures = figures

    def collect(self) -> Iterable[Metric]:
        return iter(self._figures)


def exposition(figures: Sequence[Metric], multiprocess_dir: Path | None) -> bytes:
    """The text format of a scrape: every process's instruments (those in ``multiprocess_dir``'s files when
    given, else this process's own) followed by ``figures``."""
    counted: CollectorRegistry = REGISTRY
    if multiprocess_dir is not None:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]  # unannotated
    read = CollectorRegistry(auto_describe=False)
    read.register(_Given(figures))
    return generate_latest(counted) + generate_latest(read)
