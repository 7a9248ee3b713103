"""Our OpenTelemetry spans, through the API only: the store's statements and transactions, the account actors'
polls and provider calls, webhook deliveries; and the W3C ``traceparent`` that carries a trace from the
request that caused a webhook event to the delivery that sends it (docs/telemetry.md).

Which spans go where is decided here; whether they go anywhere is not: until the root installs an exporting
tracer provider (``songtrack/telemetry.py``, when ``[telemetry] endpoint`` is set), ``TRACER`` is the API's
no-op tracer, and every span below costs a function call. OpenTelemetry keeps the current span in a
contextvar, which trio tasks inherit when they are spawned; the store's spans are made on the trio side of
the asyncio bridge, so they never need the context to cross it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import nullcontext
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from opentelemetry.context import Context
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AttributeValue

__all__ = [
    "TRACER",
    "context_of",
    "continued_span",
    "current_traceparent",
    "in_trace",
    "poll_span",
    "statement_kind",
    "statement_span",
]

# A proxy: it starts real spans once the root has set a tracer provider, no-op spans before (and without one).
TRACER = trace.get_tracer("songtrack")

_W3C = TraceContextTextMapPropagator()
# The statement's first keyword, after any leading comments: SELECT, INSERT, WITH, …
_KEYWORD = re.compile(r"\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)")


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside a sampled trace (and with tracing off)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def context_of(headers: Mapping[str, str]) -> Context:
    """The context a W3C ``traceparent`` (and ``tracestate``) in ``headers`` continues; an empty one (a new
    trace) when there is none or it is malformed. ``headers`` is looked up by lowercase name."""
    return _W3C.extract(headers)


def continued_span(name: str, traceparent: str | None, attributes: Mapping[str, AttributeValue],
                   kind: SpanKind = SpanKind.INTERNAL) -> AbstractContextManager[Span]:
    """A current span ``name`` continuing the trace whose ``traceparent`` was stored (a new trace without one)."""
    parent = context_of({"traceparent": traceparent} if traceparent else {})
    return TRACER.start_as_current_span(name, context=parent, kind=kind, attributes=attributes)


def statement_kind(sql: str) -> str:
    """The kind of an SQL statement, its first keyword upper-cased (``SELECT``, ``WITH``); never its text."""
    match = _KEYWORD.match(sql)
    return match[1].upper() if match else "SQL"


def in_trace(name: str, attributes: Mapping[str, AttributeValue] | None = None,
             kind: SpanKind = SpanKind.INTERNAL) -> AbstractContextManager[object]:
    """A current child span ``name`` inside an active trace; nothing outside one. The store's work is traced
    only as part of something traced (a request, a poll, a delivery): a statement is never a trace of its own."""
    if not trace.get_current_span().is_recording():
        return nullcontext()
    return TRACER.start_as_current_span(name, kind=kind, attributes=attributes)


def statement_span(sql: str) -> AbstractContextManager[object]:
    """``in_trace`` for one statement: named after its kind, with no text and no parameters."""
    if not trace.get_current_span().is_recording():  # before reading the statement: the common case costs nothing
        return nullcontext()
    kind = statement_kind(sql)
    return TRACER.start_as_current_span(kind, kind=SpanKind.CLIENT,
                                        attributes={"db.system.name": "postgresql", "db.operation.name": kind})


def poll_span(kind: str) -> AbstractContextManager[object]:
    """A trace of its own for one poll of an account actor of ``kind``: its provider calls and statements."""
    return TRACER.start_as_current_span(f"{kind} poll", attributes={"songtrack.actor_kind": kind})
