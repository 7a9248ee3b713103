"""Live frames as WebSocket bytes: each server-to-client text frame encoded once, however many connections
it goes to, and written straight to hypercorn's socket, several at a time.

A frame a server sends is never masked, so without an extension its bytes are the same for every
connection: we encode it once (``shared_frame``) instead of once per connection through Quart, the ASGI
middlewares and wsproto (60 % of the fan-out's time, bench/live.py). ``with_raw_frames`` is the app's
outermost ASGI wrapper: it is the only one that sees the ``send`` hypercorn hands the app, and gives the
connection its ``RawFrames`` in the scope. It reaches into hypercorn's connection objects (the WSStream
behind ``send``, the TCPServer behind it, their ``send_lock`` and socket); tests/http_api/live/test_wire.py
holds that path, so an upgrade that moves them fails there rather than falling back unnoticed. A
connection whose client offered an extension (browsers offer permessage-deflate, which compresses per
connection), or a server that is not hypercorn (Quart's test client), has none and sends through
``websocket.send``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, cast

import trio
from hypercorn.protocol.events import Data
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.trio.tcp_server import TCPServer
from wsproto.connection import ConnectionState

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

__all__ = ["RAW_FRAMES", "RawFrames", "raw_frames", "shared_frame", "text_frame", "with_raw_frames"]

RAW_FRAMES = "songtrack.raw_frames"  # the scope's extension holding the connection's RawFrames


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, final WebSocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


# The hub hands every subscriber the same ``str`` objects (up to a page of 500 events): each connection after
# the first finds their bytes here by identity.
shared_frame = lru_cache(maxsize=1024)(text_frame)


class RawFrames:
    """One connection's encoded frames, written straight to hypercorn's socket. ``write_now`` writes without
    waiting when nothing else is being written on it (the hub's fan-out then costs no task switch per
    connection) and returns what the socket did not take; ``write`` sends through hypercorn's own ``send``,
    whose lock keeps our bytes whole beside its pongs and close frame. Neither writes once the connection
    is closing (as ``websocket.send`` would not)."""

    def __init__(self, stream: WSStream, server: TCPServer | None) -> None:
        self.stream, self.server = stream, server
        self.batch = False  # the client asked for batches: one WebSocket message of lines

    def encode(self, frames: list[str]) -> bytes:
        return text_frame("\n".join(frames)) if self.batch else b"".join(map(shared_frame, frames))

    def write_now(self, frames: list[str]) -> bytes | None:
        """Write ``frames`` without waiting; the bytes the socket did not take (the writer sends them next),
        or None when it could not start (hypercorn is writing, or the connection is closing)."""
        server = self.server
        if server is None or server.send_lock.locked() or not self._open():
            return None
        data = self.encode(frames)
        assert isinstance(server.stream, trio.SocketStream)
        try:
            sent = os.write(server.stream.socket.fileno(), data)  # a non-blocking socket: never waits
        except BlockingIOError:
            sent = 0
        except OSError:
            return None  # broken: hypercorn's reader sees it too; the writer's ``send`` finds it closing
        return data[sent:]

    async def write(self, data: bytes) -> None:
        if self._open():
            await self.stream.send(Data(stream_id=self.stream.stream_id, data=data))

    def _open(self) -> bool:
        stream = self.stream
        return (not stream.closed and stream.state == ASGIWebsocketState.CONNECTED
                and stream.connection.state == ConnectionState.OPEN)


def _server(stream: WSStream) -> TCPServer | None:
    """The TCPServer under ``stream`` (its ``send`` is the h11 protocol's, whose ``send`` is the server's) when
    it serves a plain socket; None over TLS, where bytes must go through the TLS stream."""
    protocol = getattr(stream.send, "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    return server if isinstance(server, TCPServer) and isinstance(server.stream, trio.SocketStream) else None


def raw_frames(scope: Scope) -> RawFrames | None:
    """The connection's ``RawFrames``; None when frames must go through ``websocket.send`` (an extension
    was offered, or the server is not hypercorn)."""
    extensions = cast("dict[str, dict[str, RawFrames]]", scope.get("extensions") or {})
    return extensions.get(RAW_FRAMES, {}).get("frames")


def with_raw_frames(app: ASGIFramework) -> ASGIFramework:
    """``app``, whose WebSocket scopes carry their ``RawFrames`` for ``raw_frames``. Outermost: any wrapper
    between hypercorn and this one would hide hypercorn's stream."""

    # A plain function handing back the app's awaitable, not a coroutine awaiting it: no frame of ours is
    # held for a WebSocket's whole life (thousands of them).
    def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Awaitable[None]:
        stream = getattr(send, "__self__", None)  # hypercorn hands the app its WSStream's bound app_send
        # An extension the client offered (browsers offer permessage-deflate) may change every frame's bytes.
        if scope["type"] == "websocket" and isinstance(stream, WSStream) and stream.handshake.extensions is None:
            extensions = scope.get("extensions")
            if extensions is None:
                scope["extensions"] = extensions = {}
            extensions[RAW_FRAMES] = {"frames": RawFrames(stream, _server(stream))}  # in place: this scope's own
        return app(scope, receive, send)

    return wrapped
