"""The webhook receiver the pipeline benchmark posts to: a bare ASGI app under hypercorn (trio) on 127.0.0.1, in
a process of its own (``python bench/_pipeline_receiver.py --tally F --ready R``), which answers 200, counts
every body and records when each latency webhook arrived.

Its own process, so that neither the dispatcher nor the raw POST baseline shares its CPU with the receiver
(in the benchmark's process it took about a quarter of that thread, unevenly: a slower sender leaves it more).
It does not verify signatures: the raw POST baseline sends unsigned bodies, and the receiver's cost must be
the same for both rows. The shape follows tests/helpers/receiver.py, which bench code may not import.

What it saw reaches the benchmark without a request of its own: the count is a 64-bit integer in the tally
file, which both processes map; each latency webhook's campaign id and arrival time (``time.monotonic``, one
clock for every process of the machine) is a line appended to the tally file's ``.arrivals`` sibling.
"""

from __future__ import annotations

import argparse
import functools
import mmap
import signal
import struct
import sys
import time
from pathlib import Path
from typing import IO

import msgspec
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench._server import ServerProcess

__all__ = ["Receiver", "start_receiver"]

_envelope = msgspec.json.Decoder(dict[str, object])
_COUNT = struct.Struct("<Q")


class Receiver:
    """The benchmark's handle on the receiver process: ``url``, ``count`` (bodies received so far) and
    ``arrivals`` (a campaign id, the envelope's ``data.campaignId``, to the ``time.monotonic()`` its first
    webhook arrived, for the latency phase). ``stop`` ends the process and returns its exit code."""

    def __init__(self, server: ServerProcess, url: str, tally: Path) -> None:
        self.url, self._server, self._arrivals_file = url, server, _arrivals_path(tally)
        with tally.open("r+b") as file:
            self._tally = mmap.mmap(file.fileno(), _COUNT.size)

    @property
    def count(self) -> int:
        return int(_COUNT.unpack_from(self._tally)[0])

    @property
    def arrivals(self) -> dict[str, float]:
        seen: dict[str, float] = {}
        for line in self._arrivals_file.read_text().splitlines():
            campaign, at = line.split()
            seen.setdefault(campaign, float(at))
        return seen

    def stop(self) -> int:
        self._tally.close()
        return self._server.stop()

    def tail(self) -> str:
        return self._server.tail()


def start_receiver(root: Path) -> Receiver:
    """The receiver process, serving on a free port of 127.0.0.1 until ``stop``; its files are in ``root``."""
    tally = root / "receiver.tally"
    tally.write_bytes(bytes(_COUNT.size))
    _arrivals_path(tally).write_text("")
    argv = [sys.executable, __file__, "--tally", str(tally)]
    server, url = ServerProcess.launch(argv, root, what="webhook receiver", start_timeout=20.0, stop_timeout=5.0)
    return Receiver(server, url, tally)


def _arrivals_path(tally: Path) -> Path:
    return tally.with_suffix(".arrivals")


class _App:
    """Counts POSTs into ``tally`` and appends each latency webhook's arrival to ``arrivals``."""

    def __init__(self, tally: mmap.mmap, arrivals: IO[str]) -> None:
        self._tally, self._arrivals, self._count = tally, arrivals, 0

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
        arrived = time.monotonic()
        self._count += 1
        _COUNT.pack_into(self._tally, 0, self._count)
        data = _envelope.decode(body).get("data")
        if isinstance(data, dict) and isinstance(campaign := data.get("campaignId"), str):
            self._arrivals.write(f"{campaign} {arrived!r}\n")
            self._arrivals.flush()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def _serve(tally: Path, ready: Path) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    with tally.open("r+b") as file, _arrivals_path(tally).open("a") as arrivals:
        app = _App(mmap.mmap(file.fileno(), _COUNT.size), arrivals)
        serving = functools.partial(serve, app, config, shutdown_trigger=trio.sleep_forever)  # type: ignore[arg-type]
        with trio.open_signal_receiver(signal.SIGTERM) as stop:  # ServerProcess.stop's: exit 0
            async with trio.open_nursery() as nursery:
                binds = await nursery.start(serving)
                partial = ready.with_suffix(".partial")
                partial.write_text(binds[0])
                partial.rename(ready)
                async for _ in stop:
                    nursery.cancel_scope.cancel()
                    break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tally", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    trio.run(_serve, args.tally, args.ready)


if __name__ == "__main__":
    main()
