"""The server span of every HTTP request (docs/telemetry.md): it continues the client's W3C ``traceparent``
when one is sent, carries the request id, is named after the method and the route's template
(``POST /v1/campaigns``), and is the current span while the app handles the request, so the store's
statements and the webhook events it enqueues belong to its trace.

WebSocket connections get no span: they last as long as a client stays, and a trace of hours says nothing.
With tracing off (``[telemetry] endpoint`` empty) the spans are the API's no-op spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from quart import request

from engine.logs import current_request
from engine.tracing import TRACER, context_of

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, HTTPScope, Scope
    from quart_trio import QuartTrio

__all__ = ["install_tracing", "with_tracing"]


def with_tracing(app: ASGIFramework) -> ASGIFramework:
    """``app``, each of whose HTTP requests runs inside its server span (named after the method until the
    route is known); a 5xx answer or an exception marks the span as an error."""

    # A plain function handing back the app's awaitable: no frame of ours held for a WebSocket's whole life.
    def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Awaitable[None]:
        return _traced(app, scope, receive, send) if scope["type"] == "http" else app(scope, receive, send)

    return wrapped


async def _traced(app: ASGIFramework, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    attributes = {"http.request.method": scope["method"], "songtrack.request_id": current_request.get() or ""}
    with TRACER.start_as_current_span(scope["method"], context=context_of(headers), kind=SpanKind.SERVER,
                                      attributes=attributes) as span:

        async def send_traced(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
            await send(message)

        await app(scope, receive, send_traced)


def install_tracing(app: QuartTrio) -> None:
    """Name each request's span after its route's template once the route is matched."""
    app.before_request(_name_span)


async def _name_span() -> None:
    if request.url_rule is not None:  # a path no route matches keeps the method alone, as the conventions say
        span = trace.get_current_span()
        span.update_name(f"{request.method} {request.url_rule.rule}")
        span.set_attribute("http.route", request.url_rule.rule)
