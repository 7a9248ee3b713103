"""One client process of bench/live.py: many WebSocket clients on one uvloop event loop, speaking just
enough RFC 6455 by hand (an asyncio ``Protocol`` each; no library), so that the clients cost as little CPU as
possible on a machine they share with the server they measure.

Run by the parent as ``python bench/_live_clients.py '<json spec>'``; it talks over stdin/stdout, one JSON
line at a time: it prints ``{"connected": ...}`` once every client has its ``subscribed`` reply (or gave up),
waits for a ``stop`` line from the parent (the end of the measured window), reads ``drain`` seconds longer,
lets the slow clients read again to learn how the server closed them, and prints ``{"result": ...}``.

Each client: TCP connect, the WebSocket handshake, ``{"type":"auth","token":...}`` and
``{"type":"subscribe","trackId":...}`` (the bare baseline server ignores both and answers ``subscribed`` at
once). A stream frame's latency is the receive time (``time.time()`` when its bytes reached this process)
minus its ``data.timestamp`` (set from ``time.time()``-equivalent ``datetime.now(UTC)`` by the event source
on this machine). Slow clients set a 4 KB SO_RCVBUF before connecting and stop reading once subscribed;
their frames are not timed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import socket
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any, cast

import msgspec
import uvloop

__all__ = ["BUCKET", "CLOSE_WAIT", "HANDSHAKES", "HANDSHAKE_TIMEOUT", "Client", "Stats", "client_frame", "main"]

HANDSHAKES = 32  # concurrent handshakes per process: hypercorn listens with a backlog of 100
HANDSHAKE_TIMEOUT = 30.0  # seconds from TCP connect to the ``subscribed`` reply, once through the gate
CLOSE_WAIT = 2.0  # seconds the slow clients get, once reading again, to reach the server's close frame
BUCKET = 10_000  # latency histogram resolution: 1/BUCKET s = 0.1 ms


class _Data(msgspec.Struct):
    timestamp: datetime | None = None


class _Message(msgspec.Struct):
    event: str
    data: _Data | None = None


_decode = msgspec.json.Decoder(_Message).decode


def client_frame(text: str) -> bytes:
    """A masked text frame; the all-zero masking key leaves the payload as it is (RFC 6455 allows it)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = bytes((0x81, 0x80 | n))
    elif n < 65536:
        header = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


_PONG = client_frame('{"type":"pong"}')


class Stats:
    def __init__(self) -> None:
        self.histogram: Counter[int] = Counter()  # latency in 0.1 ms buckets -> fast clients' frames
        self.delivered = 0
        self.counts = 0  # counts snapshots the fast clients received


class Client(asyncio.Protocol):
    def __init__(self, stats: Stats, request: bytes, hello: bytes, slow: bool) -> None:
        self.stats, self.request, self.hello, self.slow = stats, request, hello, slow
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()  # the close code (1006: no close frame)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle(1006)

    def _settle(self, code: int) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed with {code} before subscribed"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._settle(-int(buffer[9:12] or b"0"))  # the HTTP status, negated
                assert self.transport is not None
                self.transport.abort()
                return
            del buffer[:end + 4]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(self.hello)
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2:pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = bytes(buffer[pos + head:pos + head + length])
            pos += head + length
            opcode = first & 0x0F
            if opcode == 1:
                self._message(payload, now)
            elif opcode == 8:
                self._settle(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005)
            elif opcode == 9 and self.transport is not None:  # a protocol ping: pong with its payload
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
        del buffer[:pos]

    def _message(self, payload: bytes, now: float) -> None:
        for line in payload.split(b"\n"):  # one line, or several when the client asked for batches
            self._one(_decode(line), now)

    def _one(self, message: _Message, now: float) -> None:
        if message.event == "stream":
            if self.slow or message.data is None or message.data.timestamp is None:
                return
            sent = message.data.timestamp.timestamp()
            stats = self.stats
            stats.histogram[int((now - sent) * BUCKET)] += 1
            stats.delivered += 1
        elif message.event == "counts":
            if not self.slow:
                self.stats.counts += 1
        elif message.event == "subscribed":
            if not self.subscribed.done():
                self.subscribed.set_result(None)
            if self.slow and self.transport is not None:
                self.transport.pause_reading()  # from now on the kernel buffers fill, then the server's
        elif message.event == "ping" and self.transport is not None:
            self.transport.write(_PONG)


async def _open(spec: dict[str, Any], stats: Stats, slow: bool, gate: asyncio.Semaphore) -> Client:
    loop = asyncio.get_running_loop()
    host, port = spec["host"], spec["port"]
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {spec['path']} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    hello = client_frame(json.dumps({"type": "auth", "token": spec["token"], "batch": spec["batch"]})) + client_frame(
        json.dumps({"type": "subscribe", "trackId": spec["track"]}))
    async with gate:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no autotuning up to 6 MB
        sock.setblocking(False)
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            try:
                await loop.sock_connect(sock, (host, port))
            except BaseException:
                sock.close()
                raise
            _, client = await loop.create_connection(lambda: Client(stats, request, hello, slow), sock=sock)
            try:
                await client.subscribed
            except BaseException:
                if client.transport is not None:
                    client.transport.abort()
                raise
    return client


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _run(spec: dict[str, Any]) -> None:
    stats = Stats()
    gate = asyncio.Semaphore(HANDSHAKES)
    kinds = [True] * spec["slow"] + [False] * (spec["clients"] - spec["slow"])
    started = time.monotonic()
    tasks = [asyncio.ensure_future(_open(spec, stats, slow, gate)) for slow in kinds]
    _, late = await asyncio.wait(tasks, timeout=spec["ramp"])  # the whole ramp's budget
    for task in late:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    clients = [c for c in outcomes if isinstance(c, Client)]
    failures = Counter(f"not subscribed {spec['ramp']:g} s after the start" if isinstance(c, asyncio.CancelledError)
                       else type(c).__name__ + (f": {c}"[:80] if str(c) else "") for c in outcomes
                       if not isinstance(c, Client))
    _say({"connected": len(clients), "failed": dict(failures), "seconds": time.monotonic() - started})
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "stop <drain>"
    await asyncio.sleep(float(line.split()[1]))
    fast_closed = Counter(c.closed.result() for c in clients if not c.slow and c.closed.done())
    delivered, counts, histogram = stats.delivered, stats.counts, dict(stats.histogram)
    slow = [c for c in clients if c.slow]
    for client in slow:
        if client.transport is not None and not client.transport.is_closing():
            client.transport.resume_reading()
    if slow:
        await asyncio.wait([c.closed for c in slow], timeout=CLOSE_WAIT)
    slow_closed = Counter(c.closed.result() if c.closed.done() else 0 for c in slow)  # 0: still open
    for client in clients:
        if client.transport is not None:
            client.transport.abort()
    _say({"result": {"fast": sum(not c.slow for c in clients), "slow": len(slow), "delivered": delivered,
                     "histogram": histogram, "fast_closed": fast_closed, "slow_closed": slow_closed,
                     "counts": counts}})


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(sys.argv[1])
    uvloop.run(_run(spec))


if __name__ == "__main__":
    main()
