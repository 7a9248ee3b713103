"""Every HTTP request and WebSocket handshake gets an id: the client's ``X-Request-ID`` when it is a sane
token, else one we make. The answer carries it back in ``X-Request-ID``, and while the request is handled
it is ``engine.logs.current_request``, so every log line and every error body of that request names it.

A client's id is only a label we echo and log: it is never trusted for anything else, and one that could
forge log lines or grow them without bound (too long, or other characters) is replaced, not trimmed.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from engine.logs import current_request

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, Scope

__all__ = ["HEADER", "with_request_ids"]

HEADER = "X-Request-ID"
_HEADER_NAME = HEADER.lower().encode()
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is at most 128 of ``[A-Za-z0-9._:-]``, else a new uuid4 (hex)."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE.fullmatch(text):
                return text
    return uuid.uuid4().hex


def with_request_ids(app: ASGIFramework) -> ASGIFramework:
    """``app``, each of whose HTTP and WebSocket scopes runs with its request id set and answers with it."""

    async def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
            return
        request_id = _request_id(scope["headers"])
        token = current_request.set(request_id)
        try:
            await app(scope, receive, _SendWithId(send, request_id))
        finally:
            current_request.reset(token)

    return wrapped


class _SendWithId:
    """The app's ``send``, adding the request id's header to the answer. One small object rather than a
    closure: a WebSocket holds it for as long as it stays open, and there are thousands of them."""

    __slots__ = ("request_id", "send")

    def __init__(self, send: ASGISendCallable, request_id: str) -> None:
        self.send, self.request_id = send, request_id

    async def __call__(self, message: ASGISendEvent) -> None:
        header = (_HEADER_NAME, self.request_id.encode())
        # In place: the app built the message for this one send.
        if message["type"] == "http.response.start" or message["type"] == "websocket.http.response.start":
            message["headers"] = [*message["headers"], header]
        elif message["type"] == "websocket.accept":
            message["headers"] = [*message.get("headers", ()), header]
        await self.send(message)
