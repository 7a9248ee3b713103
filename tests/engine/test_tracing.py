"""The spans' rules that need no collector: a statement is named by its kind, never its text, and with
tracing off (no tracer provider set in this process) nothing is traced and no ``traceparent`` is stored.
Traces as a collector receives them are tests/songtrack/test_telemetry_e2e.py's."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from engine.tracing import context_of, current_traceparent, in_trace, statement_kind

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(("sql", "kind"), [
    ("SELECT 1", "SELECT"),
    ("  insert into t VALUES ($1)", "INSERT"),
    ("WITH picked AS (SELECT 1) UPDATE t SET x = 1", "WITH"),
    ("-- a comment\n  -- another\nDELETE FROM t WHERE id = $1", "DELETE"),
    ("", "SQL"),
])
def test_a_statement_is_named_by_its_kind_alone(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind


def test_with_tracing_off_nothing_is_traced_or_stored() -> None:
    assert current_traceparent() is None
    with in_trace("transaction"):
        assert not trace.get_current_span().is_recording()
        assert current_traceparent() is None


def test_a_traceparent_is_continued_and_a_malformed_one_ignored() -> None:
    continued = trace.get_current_span(context_of({"traceparent": PARENT})).get_span_context()
    assert (format(continued.trace_id, "032x"), format(continued.span_id, "016x")) == (PARENT[3:35], PARENT[36:52])
    assert not trace.get_current_span(context_of({"traceparent": "00-nonsense"})).get_span_context().is_valid
