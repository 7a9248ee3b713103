"""The webhook receiver the pipeline benchmark posts to: a bare ASGI app under hypercorn on 127.0.0.1, in the
benchmark's own trio run, that answers 200 and records when each body arrived (``trio.current_time``).

It does not verify signatures: the raw POST baseline sends unsigned bodies, and the receiver's cost must be
the same for both rows. The shape follows tests/helpers/receiver.py, which bench code may not import.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import msgspec
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

__all__ = ["Receiver", "serve_receiver"]

_envelope = msgspec.json.Decoder(dict[str, object])


@dataclass
class Receiver:
    """Counts POSTs; ``arrivals`` maps a campaign id (the envelope's ``data.campaignId``) to the trio time
    its first webhook arrived, for the latency phase."""

    url: str = ""
    count: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = trio.current_time()
        self.count += 1
        data = _envelope.decode(body).get("data")
        if isinstance(data, dict) and isinstance(campaign := data.get("campaignId"), str):
            self.arrivals.setdefault(campaign, arrived)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def serve_receiver(nursery: trio.Nursery) -> Receiver:
    """A receiver listening on 127.0.0.1 (a free port) until ``nursery`` ends; ``url`` is its address."""
    app = Receiver()
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None  # hypercorn's "Running on ..." would land in the table
    serving = functools.partial(serve, app, config, shutdown_trigger=trio.sleep_forever)  # type: ignore[arg-type]
    binds = await nursery.start(serving)
    app.url = binds[0]
    return app
