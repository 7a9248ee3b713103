"""A real webhook consumer for tests: an ASGI app under hypercorn on 127.0.0.1 that verifies every
request as consumers do (the ``standardwebhooks`` package, and a hand-written check of the seed's
``X-Webhook-*`` headers), records it, and answers as scripted."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import TypeVar

import standardwebhooks
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from engine.webhooks.signing import secret_key

__all__ = ["Received", "Receiver", "request_body", "seed_ok", "serve_app", "serve_receiver", "standard_ok"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_standard: bool
    verified_seed: bool

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


def seed_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The seed's check, as a consumer writes it: HMAC-SHA256 of "{timestamp}.{body}", hex, sha256=."""
    stamp = headers.get("x-webhook-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
        return False
    mac = hmac.new(secret_key(secret), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest("sha256=" + mac, given)
               for given in headers.get("x-webhook-signature", "").split(" "))


@dataclass
class Receiver:
    """A real webhook consumer (an ASGI app under hypercorn): verifies, records, answers as scripted."""

    secrets: dict[str, list[str]] = field(default_factory=dict)  # by path: each endpoint has its own
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # consumed in order; then 200
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel[Received](1000)

    async def next(self) -> Received:
        with trio.fail_after(10):
            return await self._recv.receive()

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        body = await request_body(scope, receive, send)
        if body is None:
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        mine = self.secrets.get(scope["path"], [])
        item = Received(scope["path"], headers, body,
                        bool(mine) and all(standard_ok(secret, headers, body) for secret in mine),
                        bool(mine) and all(seed_ok(secret, headers, body) for secret in mine))
        await self.answer(item, receive, send)

    async def answer(self, item: Received, receive, send) -> None:  # type: ignore[no-untyped-def]
        """Answer a verified, recorded request: the next scripted answer, then 200. Subclasses script more."""
        status, extra = self.answers.pop(0) if self.answers else (200, {})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in extra.items()]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"nope"})
        self.received.append(item)
        self._send.send_nowait(item)


def standard_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(body, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def request_body(scope: dict, receive, send) -> bytes | None:  # type: ignore[no-untyped-def,type-arg]
    """An HTTP request's whole body; None for a request whose client went away before sending all of it (a
    timed-out attempt under load: nothing was delivered) and, for the lifespan scope, its protocol played
    through and None."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return None
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


R = TypeVar("R", bound=Receiver)


async def serve_app(nursery: trio.Nursery, app: object) -> str:
    """Serve the ASGI ``app`` on 127.0.0.1, any free port, until ``nursery`` ends; returns its address."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    serving = functools.partial(serve, app, config, shutdown_trigger=trio.sleep_forever)  # type: ignore[arg-type]
    binds = await nursery.start(serving)
    return str(binds[0])


async def serve_receiver(nursery: trio.Nursery, kind: type[R] = Receiver) -> R:  # type: ignore[assignment]
    """A receiver (of ``kind``) on 127.0.0.1, any free port, until ``nursery`` ends; ``url`` is its address."""
    app = kind()
    app.url = await serve_app(nursery, app)
    return app
