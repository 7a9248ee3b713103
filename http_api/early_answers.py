"""Answers sent before the request's body was read (a 401 before the body is looked at, a 413 past the
limit), on a kept-alive HTTP/1.1 connection: the client's next request on it must be answered.

Under hypercorn and quart-trio it hung, for two reasons:
- hypercorn reuses a connection only once the client has sent its whole body; otherwise it closes it;
- it reuses or closes it inside the app's last ``send``, after queueing ``http.disconnect`` for the app,
  and quart-trio cancels the app's task on that disconnect, at the next checkpoint, which is inside the
  close: the connection was neither reused nor closed.
So we shield the last ``send`` (its socket writes are shielded by hypercorn already), and we hold an early
answer until the body has arrived, when it is at most ``DRAIN_BYTES`` and arrives within
``DRAIN_SECONDS``, so the connection can be reused. Past either bound the answer says
``Connection: close`` and the connection is closed. Only ``http`` scopes are touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hypercorn.typing import (
        ASGIFramework,
        ASGIReceiveCallable,
        ASGIReceiveEvent,
        ASGISendCallable,
        ASGISendEvent,
        Scope,
    )

__all__ = ["DRAIN_BYTES", "DRAIN_SECONDS", "answer_after_body"]

# An unread body this small is cheaper to read and drop than a new connection (and TLS handshake).
DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 5.0


def answer_after_body(app: ASGIFramework) -> ASGIFramework:
    """``app``, whose HTTP answers wait for the request's body (within the bounds) before they leave."""

    async def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body = _Body(_content_length(scope["headers"]))

        async def receive_counted() -> ASGIReceiveEvent:
            message = await receive()
            body.saw(message)
            return message

        async def send_after_body(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and not await body.drained():
                message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):  # hypercorn reuses or closes the connection in here
                    await send(message)
            else:
                await send(message)

        await app(scope, receive_counted, send_after_body)

    return wrapped


class _Body:
    """How much of the request's body the app has received (quart-trio receives it all, read or not)."""

    def __init__(self, expected: int | None) -> None:
        self.expected, self.received, self.complete = expected, 0, False
        self._settled = trio.Event()  # complete, past the bound, or the client went away

    def saw(self, message: ASGIReceiveEvent) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.complete or self.received > DRAIN_BYTES:
                self._settled.set()
        elif message["type"] == "http.disconnect":
            self._settled.set()

    async def drained(self) -> bool:
        """True once the whole body has arrived; False when it is too big or too slow to wait for."""
        if not self.complete and (self.expected or 0) <= DRAIN_BYTES:
            with trio.move_on_after(DRAIN_SECONDS):
                await self._settled.wait()
        return self.complete


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None
