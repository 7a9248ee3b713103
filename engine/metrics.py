"""The service's Prometheus instruments, counted where things happen (docs/metrics.md lists each one).

Names and units follow Prometheus' conventions (``_total`` counters, base units: seconds, bytes). Labels
are bounded sets (a method, a route template, a status code, an outcome, an actor's kind), never an
organization's, an account's or a user's id, so a label's series stay few whatever the data.

Every process records into prometheus_client's own storage: in memory, or, when ``songtrack run`` set
``PROMETHEUS_MULTIPROC_DIR`` before this module was first imported, in files that one scrape of any of its
processes adds up (``songtrack/metrics_dir.py``). What is read at scrape time from the database is in
``engine/metrics_scrape.py``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from engine.provider import ProviderError, RateLimitedError, Result, RetryableError, UsageSignal
from engine.tracing import TRACER

__all__ = [
    "ACTOR_RESTARTS",
    "AGGREGATOR_BATCH_DURATION",
    "AGGREGATOR_BATCH_SAMPLES",
    "DATABASE_UNAVAILABLE",
    "EXPORTS",
    "FENCED_WRITES",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "IMPORTS",
    "IMPORT_ROWS",
    "LIVE_CONNECTIONS",
    "LIVE_FRAMES_SENT",
    "LIVE_SLOW_CLOSES",
    "POLL_LAG",
    "PROVIDER_CALLS",
    "PROVIDER_REFUSALS",
    "PROVIDER_USAGE",
    "WEBHOOK_ATTEMPTS",
    "WEBHOOK_ATTEMPT_DURATION",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_DELIVERY_DELAY",
    "actor_kind",
    "counted_call",
    "domain_kind",
    "poll_began",
    "record_usage",
]

# No ``_created`` series: the files of several processes have none, so one process's scrape shows the same.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated

HTTP_REQUESTS = Counter(
    "songtrack_http_requests", "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
# From a few milliseconds (a cached read) to the 30 s an export or a provider round trip may take.
HTTP_REQUEST_DURATION = Histogram(
    "songtrack_http_request_duration_seconds", "Time from a request's arrival at the app to its response.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# ``livesum``: with several processes the open connections of the live ones add up; a dead worker's drop out.
LIVE_CONNECTIONS = Gauge("songtrack_live_connections", "Open live-stream WebSocket connections.",
                         multiprocess_mode="livesum")
LIVE_FRAMES_SENT = Counter("songtrack_live_frames_sent", "Frames sent on live-stream WebSocket connections.")
LIVE_SLOW_CLOSES = Counter(
    "songtrack_live_slow_closes", "Live-stream connections closed with 4429 because the client fell behind.",
)

WEBHOOK_ATTEMPTS = Counter(
    "songtrack_webhook_attempts", "Webhook delivery attempts, by outcome (succeeded, failed, throttled, gone).",
    ["outcome"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "songtrack_webhook_attempt_duration_seconds", "Time one webhook POST took, to its answer or its timeout.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
WEBHOOK_DELIVERIES = Counter(
    "songtrack_webhook_deliveries", "Webhook deliveries settled, by outcome (succeeded, failed, disabled).",
    ["outcome"],
)

# From an event's creation to its delivery: seconds when all is well, hours through a receiver's outage.
WEBHOOK_DELIVERY_DELAY = Histogram(
    "songtrack_webhook_delivery_delay_seconds",
    "Time from a webhook event's creation to its successful delivery to one endpoint, retries included.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)

IMPORTS = Counter("songtrack_imports", "Stream-report imports ended, by kind and status.", ["kind", "status"])
IMPORT_ROWS = Counter(
    "songtrack_import_rows", "Rows of ended stream-report imports, imported or left out.", ["result"],
)
EXPORTS = Counter("songtrack_exports", "Report exports ended, by format and status.", ["format", "status"])

PROVIDER_CALLS = Counter(
    "songtrack_provider_calls", "Calls to a provider's API by the account actors, by provider and outcome.",
    ["provider", "outcome"],
)
PROVIDER_REFUSALS = Counter(
    "songtrack_provider_refusals", "Calls a provider refused for its rate limit, by provider and rate domain kind.",
    ["provider", "domain"],
)

# ``livemax``: the account actors run in one process (the engine's), so the max over the live ones is its
# figure, and a dead process's last report drops out rather than standing for ever.
PROVIDER_USAGE = Gauge(
    "songtrack_provider_usage_percent",
    "The latest usage a provider reported, in percent of the allowance, by rate domain kind (max over accounts).",
    ["provider", "domain"], multiprocess_mode="livemax",
)

ACTOR_RESTARTS = Counter(
    "songtrack_actor_restarts", "Restarts of supervised actors after a crash or a return, by kind.", ["kind"],
)

# From a timer's jitter (milliseconds) to a cycle that overran its interval or waited on a full channel (hours).
# Finer below a second, where a busy event loop's lag lies (bench/pipeline.py reads its p50/p99 from these).
POLL_LAG = Histogram(
    "songtrack_poll_lag_seconds", "How late an account actor's poll began against when it was due, by kind.",
    ["kind"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 60, 300, 900, 3600,
                       4 * 3600),
)

DATABASE_UNAVAILABLE = Counter(
    "songtrack_database_unavailable_seconds",
    "Seconds this process found PostgreSQL unreachable, from its first failed call to its next success.",
)

# A batch is at most the aggregator's ``max_batch`` (``actors.aggregator.MAX_BATCH``, 4096) samples.
AGGREGATOR_BATCH_SAMPLES = Histogram(
    "songtrack_aggregator_batch_samples", "Samples the aggregator wrote in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
)
FENCED_SAMPLES = Counter(
    "songtrack_fenced_samples_total",
    "Samples the aggregator dropped because their account's lease had passed to another engine process.",
)
# ``write`` is a fixed name per kind of write (``spotify_figures``, ``listener_plays``, ``token_refresh``, ...).
FENCED_WRITES = Counter(
    "songtrack_fenced_writes_total",
    "Writes of account actors refused because their account's lease had passed to another engine process.",
    ["write"],
)
AGGREGATOR_BATCH_DURATION = Histogram(
    "songtrack_aggregator_batch_duration_seconds",
    "Time one aggregator transaction took: facts, totals, rules, alerts and webhook events.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def actor_kind(name: str) -> str:
    """An actor's kind: its name without the account key (``meta:act_1`` → ``meta``; ``aggregator`` as is)."""
    return name.partition(":")[0]


# A segment of a rate domain that names one account, user or business: never a label.
_ID_SEGMENT = re.compile(r"^(act_\d+|\d+|[0-9a-f]{8}-[0-9a-f-]{27}|unknown)$")
T = TypeVar("T")


def domain_kind(domain: str) -> str:
    """A rate domain without its owner's id: ``meta:act_1:score`` → ``meta:score``; ``meta:app`` as is."""
    return ":".join(part for part in domain.split(":") if not _ID_SEGMENT.match(part))


# The latest utilization each rate domain (with its owner) reported in this process, by domain kind: a kind's
# gauge is their max, so one account near its limit shows, whatever the others said since. ``_top`` is the
# domain holding each kind's max, so a call costs O(1), not a scan of every account's domains (20,000
# accounts make 100,000 of them); we scan only when that domain's own figure goes down.
_latest_usage: dict[str, dict[str, float]] = {}
_top: dict[str, str] = {}


def record_usage(signals: Iterable[UsageSignal]) -> None:
    """Set ``songtrack_provider_usage_percent`` of each signal's domain kind to the max over its domains."""
    for signal in signals:
        kind = domain_kind(signal.domain)
        PROVIDER_USAGE.labels(kind.partition(":")[0], kind).set(_usage_max(kind, signal.domain, signal.utilization))


def _usage_max(kind: str, domain: str, used: float) -> float:
    latest = _latest_usage.setdefault(kind, {})
    before = latest.get(domain, used)
    latest[domain] = used
    top = _top.get(kind)
    if top == domain:
        if used < before:
            _top[kind] = max(latest, key=latest.__getitem__)
    elif top is None or used >= latest[top]:
        _top[kind] = domain
    return latest[_top[kind]]


def poll_began(kind: str, due: float, now: float) -> None:
    """Count a poll of an actor of ``kind`` that was due at ``due`` and begins at ``now`` (one clock)."""
    POLL_LAG.labels(kind).observe(max(0.0, now - due))


async def counted_call(domains: tuple[str, ...], call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, one provider API call of an account actor, counted by outcome: ``ok``, ``rate_limited``
    (and the refusing domain's kind), ``retryable`` (5xx, timeouts, a dropped connection), ``failed``; the
    usage signals its response carried (a ``Result``'s or an error's) set ``songtrack_provider_usage_percent``.
    It is traced as a span ``<provider> call`` (engine/tracing.py), a child of the actor's poll."""
    provider = domains[0].partition(":")[0] if domains else "unknown"
    with TRACER.start_as_current_span(f"{provider} call", kind=SpanKind.CLIENT, attributes={
            "songtrack.provider": provider, "songtrack.rate_domains": [domain_kind(d) for d in domains]}) as span:
        try:
            result = await call()
        except ProviderError as exc:
            record_usage(exc.signals)
            PROVIDER_CALLS.labels(provider, outcome := _outcome(exc)).inc()
            span.set_attribute("songtrack.outcome", outcome)
            if isinstance(exc, RateLimitedError):
                PROVIDER_REFUSALS.labels(provider, domain_kind(exc.domain)).inc()
            raise
        span.set_attribute("songtrack.outcome", "ok")
    if isinstance(result, Result):
        record_usage(result.signals)
    PROVIDER_CALLS.labels(provider, "ok").inc()
    return result


def _outcome(exc: ProviderError) -> str:
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    return "retryable" if isinstance(exc, RetryableError) else "failed"
