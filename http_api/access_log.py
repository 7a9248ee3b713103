"""The access log: one structured line per HTTP request or WebSocket connection, written when the app is
done with it, on the ``songtrack.access`` logger. It replaces hypercorn's access log, which is off
(``http_api.server``): hypercorn wrote a plain-text line, and two of them for a WebSocket handshake the app
ended without an answer (its ``_send_error_response`` logs, then the caller logs again).

The path is written without its query string: tokens travel in e-mail links' queries (docs/console.md).
The client is the address after ``[server] trusted_proxies`` (``http_api.forwarded`` runs before us).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from hypercorn.typing import (
        ASGIFramework,
        ASGIReceiveCallable,
        ASGISendCallable,
        ASGISendEvent,
        HTTPScope,
        Scope,
        WebsocketScope,
    )

__all__ = ["ACCESS_LOGGER", "with_access_log"]

ACCESS_LOGGER = "songtrack.access"
log = logging.getLogger(ACCESS_LOGGER)


def with_access_log(app: ASGIFramework) -> ASGIFramework:
    """``app``, each of whose HTTP and WebSocket scopes is logged once, however it ends (answered, refused,
    crashed, or the client went away: then ``status`` is what was sent, or null when nothing was)."""

    async def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
            return
        sent = _Sent(send)
        started = trio.current_time()
        try:
            await app(scope, receive, sent)
        finally:  # once, on every way out (a cancelled app included)
            _write(scope, sent, (trio.current_time() - started) * 1000)

    return wrapped


class _Sent:
    """The app's ``send``, noting what the app sent: the status of its answer (101 once a WebSocket is
    accepted) and the body's bytes. One small object rather than a closure: a WebSocket holds it for as long
    as it stays open, and there are thousands of them."""

    __slots__ = ("bytes", "send", "status")

    def __init__(self, send: ASGISendCallable) -> None:
        self.send = send
        self.status: int | None = None
        self.bytes = 0

    async def __call__(self, message: ASGISendEvent) -> None:
        self.saw(message)
        await self.send(message)

    def saw(self, message: ASGISendEvent) -> None:
        kind = message["type"]
        if kind in ("http.response.start", "websocket.http.response.start"):
            self.status = int(message["status"])  # type: ignore[typeddict-item]
        elif kind == "websocket.accept":
            self.status = 101
        elif kind == "websocket.close" and self.status is None:
            self.status = 403  # closed before the handshake was accepted: hypercorn answers 403
        elif kind in ("http.response.body", "websocket.http.response.body"):
            self.bytes += len(message.get("body", b""))  # type: ignore[arg-type]


def _write(scope: HTTPScope | WebsocketScope, sent: _Sent, duration_ms: float) -> None:
    method = scope["method"] if scope["type"] == "http" else "GET"  # a WebSocket handshake is a GET
    client, path = scope.get("client"), scope["path"]
    agent = next((value.decode("latin-1") for name, value in scope["headers"] if name.lower() == b"user-agent"), None)
    log.info("%s %s %s %.1f ms", method, path, sent.status or "-", duration_ms, extra={
        "method": method, "path": path, "status": sent.status, "duration_ms": round(duration_ms, 1),
        "bytes": sent.bytes, "client": client[0] if client else None, "user_agent": agent,
    })
