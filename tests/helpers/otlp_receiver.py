"""A real OpenTelemetry collector's front door for tests: an ASGI app under hypercorn on 127.0.0.1 that takes
OTLP/HTTP trace exports (``POST /v1/traces``, protobuf, as the exporters send them), decodes each with
opentelemetry-proto's ``ExportTraceServiceRequest`` and keeps its spans."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

import trio
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.helpers.receiver import request_body, serve_app

__all__ = ["OtlpReceiver", "ReceivedSpan", "serve_otlp_receiver"]

_SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_id: str  # "" for a root span
    attributes: dict[str, object]


def _value(value: AnyValue) -> object:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, which) if which else None


@dataclass
class OtlpReceiver:
    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    exports: int = 0

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        body = await request_body(scope, receive, send)
        if body is None:
            return
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status, answer = self._take(scope["method"], scope["path"], headers, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/x-protobuf")]})
        await send({"type": "http.response.body", "body": answer})

    def _take(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if (method, path) != ("POST", "/v1/traces") or headers.get("content-type") != "application/x-protobuf":
            return 404, b""
        encoding = headers.get("content-encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except DecodeError:
            return 400, b""
        self.exports += 1
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans += [ReceivedSpan(
                    service=str(resource.get("service.name")), name=span.name, kind=_SPAN_KINDS.get(span.kind, "?"),
                    trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(),
                    attributes={a.key: _value(a.value) for a in span.attributes}) for span in scope_spans.spans]
        return 200, ExportTraceServiceResponse().SerializeToString()


async def serve_otlp_receiver(nursery: trio.Nursery) -> OtlpReceiver:
    """A receiver on 127.0.0.1, any free port, until ``nursery`` ends; ``url`` is its base address."""
    app = OtlpReceiver()
    app.url = await serve_app(nursery, app)
    return app
