"""Where this process's OpenTelemetry spans go: with ``[telemetry] endpoint`` set, to that OTLP/HTTP
collector, in batches from a background thread; without it, nowhere, and no exporter, thread or SDK is made
(``engine/tracing.py``'s spans stay the API's no-op ones). docs/telemetry.md.

Each process of a run sets its own (``songtrack run`` and each ``songtrack api`` worker): a tracer provider
is per process, and the collector joins their spans by trace id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from config.operations import TelemetrySettings

__all__ = ["exporting_traces"]

log = logging.getLogger(__name__)


@contextmanager
def exporting_traces(settings: TelemetrySettings) -> Iterator[None]:
    """Within the block, this process's spans are exported to ``settings.endpoint`` (if set).

    Resource handling: on exit the spans not sent yet are sent and the exporter's thread ends (``shutdown``
    waits at most the exporter's timeout, 10 s, for an unreachable collector). A collector that is down
    costs dropped spans and a logged warning, never a failed request: spans are sent off the request path.
    """
    if not settings.endpoint:
        yield
        return
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
    trace.set_tracer_provider(provider)
    # The host only: a URL's user info would be a secret in the log.
    log.info("telemetry: exporting traces to %s as %s", urlsplit(settings.endpoint).hostname, settings.service_name)
    try:
        yield
    finally:
        provider.shutdown()
