"""The copy-paste live stream clients of docs/clients/, run as the docs say (a child process with the CLI)
against a real server and a real PostgreSQL, through a TCP proxy that plays the network: it cuts every
connection and refuses new ones for a while, or goes silent without closing anything. Events are ingested
before, during and after each outage; the client must print every seq of every track exactly once, in order.

Real time throughout (the child lives on it, and the database and MockClock do not mix); every wait is
bounded. The server pings every second and access tokens live 4 s, so the clients must notice a silent
link and refresh their token within the test's few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from config import Keys, load_or_create_keys
from engine.store import Database
from tests.helpers.factories import create_track
from tests.helpers.live_ws import PASSWORD, Label, Server, ingest, label, serve, settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clients"


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port``; ``cut`` and ``silence`` are the outages."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._refusing = False
        self._flowing = trio.Event()
        self._flowing.set()
        self._pairs: set[trio.CancelScope] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def cut(self, seconds: float) -> None:
        """Close every proxied connection now, and refuse new ones for ``seconds``."""
        self._refusing = True
        for scope in self._pairs:
            scope.cancel()
        await trio.sleep(seconds)
        self._refusing = False

    async def silence(self, seconds: float) -> None:
        """Forward nothing for ``seconds`` (held bytes arrive afterwards, as TCP retransmits them) and refuse
        new connections meanwhile: a link that died without a FIN."""
        self._refusing, self._flowing = True, trio.Event()
        await trio.sleep(seconds)
        self._refusing = False
        self._flowing.set()

    async def _handle(self, client: trio.SocketStream) -> None:
        upstream: trio.SocketStream | None = None
        try:
            if self._refusing:
                return
            upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
            with trio.CancelScope() as scope:
                self._pairs.add(scope)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, client, upstream, scope)
                    nursery.start_soon(self._pipe, upstream, client, scope)
            self._pairs.discard(scope)
        finally:  # closed without awaiting: this runs when the test's nursery is cancelled too
            client.socket.close()
            if upstream is not None:
                upstream.socket.close()

    async def _pipe(self, source: trio.SocketStream, sink: trio.SocketStream, pair: trio.CancelScope) -> None:
        try:
            async for data in source:
                await self._flowing.wait()
                await sink.send_all(data)
        except trio.BrokenResourceError:
            pass
        pair.cancel()  # one side ended: so does the other


class Child:
    """A client's process, its stdout parsed as JSON lines and its stderr kept for the assertions."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.events: list[dict[str, object]] = []
        self.log: list[str] = []

    async def read(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._lines, self.process.stdout, lambda line: self.events.append(json.loads(line)))
            nursery.start_soon(self._lines, self.process.stderr, self.log.append)

    @staticmethod
    async def _lines(stream: trio.abc.ReceiveStream | None, take: Callable[[str], object]) -> None:
        assert stream is not None
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                take(line.decode())

    def seqs(self, track_id: uuid.UUID) -> list[int]:
        return [int(e["seq"]) for e in self.events if e["trackId"] == str(track_id)]  # type: ignore[call-overload]

    async def until(self, what: str, condition: Callable[[], bool], seconds: float = 20) -> None:
        with trio.move_on_after(seconds):
            while not condition():
                if self.process.returncode is not None:
                    break
                await trio.sleep(0.02)
            else:
                return
        pytest.fail(f"{what}: not within {seconds} s; the client said:\n" + "\n".join(self.log))


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return load_or_create_keys(tmp_path / "data")


@pytest.fixture
async def server(nursery: trio.Nursery, db: Database, keys: Keys) -> Server:
    server = await serve(nursery, db, keys, settings(ping_interval="1"))
    server.ctx.tokens.ttl = 4  # settings allow 60 s at the least; the clients must refresh within the test
    return server


def _python(api: str, email: str, tracks: list[uuid.UUID]) -> list[str]:
    return [sys.executable, str(DOCS / "live_client.py"), "--api", api, "--email", email, "--password", PASSWORD,
            *(arg for track in tracks for arg in ("--track", str(track)))]


def _node(api: str, email: str, tracks: list[uuid.UUID]) -> list[str]:
    return ["node", "--experimental-websocket", "--no-warnings", str(DOCS / "live-client.js"), "--api", api,
            "--email", email, "--password", PASSWORD, *(arg for track in tracks for arg in ("--track", str(track)))]


def _env() -> dict[str, str]:
    """Ours, without proxy settings: the clients talk straight to 127.0.0.1."""
    return {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}


_CLIENTS = [pytest.param(_python, id="python"),
            pytest.param(_node, id="node", marks=pytest.mark.skipif(shutil.which("node") is None,
                                                                 reason="node is not installed"))]


@pytest.mark.parametrize("command", _CLIENTS)
async def test_the_client_prints_every_event_once_across_a_cut_and_a_silent_link(
        nursery: trio.Nursery, server: Server, db: Database,
        command: Callable[[str, str, list[uuid.UUID]], list[str]]) -> None:
    owner = await label(db, server.ctx)
    second = await create_track(db, owner.org_id, title="B-side")
    proxy = Proxy(int(server.http_url.rsplit(":", 1)[1]))
    await nursery.start(proxy.run)
    process = await trio.lowlevel.open_process(command(f"http://127.0.0.1:{proxy.port}", owner.email,
                                                       [owner.track_id, second]),
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    child = Child(process)
    nursery.start_soon(child.read)
    try:
        await _outages(child, proxy, db, owner, second)
    finally:
        process.terminate()
        with trio.move_on_after(5):
            await process.wait()
        process.kill()
    assert child.seqs(owner.track_id) == list(range(1, 91))
    assert child.seqs(second) == list(range(1, 31))
    # Each track was resumed (not restarted) after a reconnect. Not a count per reconnect: a track's
    # "resumed" reply may be lost to the next cut and come with the reconnect after it.
    for track in (owner.track_id, second):
        assert any(line.startswith(f"resumed {track}") for line in child.log), "\n".join(child.log)
    assert sum("new access token" in line for line in child.log) >= 2, "\n".join(child.log)  # login, renewals


async def _outages(child: Child, proxy: Proxy, db: Database, owner: Label, second: uuid.UUID) -> None:
    await child.until("subscribed", lambda: sum("subscribed to" in line for line in child.log) == 2)
    await ingest(db, owner, 20)
    await ingest(db, owner, 10, track_id=second)
    await child.until("the first events", lambda: len(child.events) == 30)
    async with trio.open_nursery() as outage:
        outage.start_soon(proxy.cut, 3)
        await trio.sleep(0.2)
        await ingest(db, owner, 30)  # while the network is down
        await ingest(db, owner, 10, track_id=second)
    await ingest(db, owner, 10)
    await child.until("caught up after the cut", lambda: len(child.seqs(owner.track_id)) == 60)
    async with trio.open_nursery() as outage:
        outage.start_soon(proxy.silence, 5)  # the client must notice within 2 s (ping interval 1 s)
        await trio.sleep(0.2)
        await ingest(db, owner, 20)
        await ingest(db, owner, 10, track_id=second)
    await ingest(db, owner, 10)
    await child.until("caught up after the silence", lambda: len(child.events) == 120)
    await trio.sleep(0.3)  # nothing more may come


@pytest.mark.parametrize("command", _CLIENTS)
async def test_a_refused_token_without_a_way_to_renew_it_stops_the_client_with_a_clear_message(
        server: Server, db: Database, command: Callable[[str, str, list[uuid.UUID]], list[str]]) -> None:
    owner = await label(db, server.ctx)
    argv = command(server.http_url, owner.email, [owner.track_id])
    at = argv.index("--email")
    argv[at:at + 4] = ["--token", "not-a-jwt"]  # a bare token: nothing to refresh it with
    with trio.fail_after(15):
        done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False, env=_env())
    assert done.returncode == 1 and done.stdout == b""
    assert b"stopped:" in done.stderr and b"4401" in done.stderr, done.stderr


@pytest.mark.parametrize("command", _CLIENTS)
async def test_the_client_sends_its_refreshed_token_on_the_open_connection(
        nursery: trio.Nursery, server: Server, db: Database,
        command: Callable[[str, str, list[uuid.UUID]], list[str]]) -> None:
    # 8 s here, not 4: a token's expiry is whole seconds after its issue, so a "4 s" token may have only
    # just over 3 s left, and the clients renew at 3/4 of the lifetime they are told: too close on a busy
    # machine to tell a late renewal from a missing one.
    server.ctx.tokens.ttl = 8
    owner = await label(db, server.ctx)
    process = await trio.lowlevel.open_process(command(server.http_url, owner.email, [owner.track_id]),
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    child = Child(process)
    nursery.start_soon(child.read)
    try:
        await child.until("subscribed", lambda: any("subscribed to" in line for line in child.log))
        await trio.sleep(9)  # past the first token's 8 s: the server would close with 4401 without a fresh auth
        await ingest(db, owner, 3)
        await child.until("the events", lambda: len(child.events) == 3)
    finally:
        process.terminate()
        with trio.move_on_after(5):
            await process.wait()
        process.kill()
    assert not any("disconnected" in line for line in child.log), "\n".join(child.log)
    assert sum("new access token" in line for line in child.log) >= 2, "\n".join(child.log)
