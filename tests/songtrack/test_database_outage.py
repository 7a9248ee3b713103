"""A PostgreSQL outage, end to end: ``songtrack run`` (a real child process, sandbox off) on a cluster of this
test's own, which is stopped (fast shutdown) for 60 s while stream events are POSTed, a WebSocket client
watches the track and webhook deliveries are pending.

What must hold: the process never exits; every request during the outage answers 503 SERVICE_UNAVAILABLE
with Retry-After, or 200, never anything else and never late; when the server is back, /health/ready is
200 and deliveries resume within 5 s; every event answered 200 was stored and reached the WebSocket client
in seq order with no gap (it reconnects and resumes as docs/live-streams.md says); every pending delivery
arrives, verified; each engine actor logged its wait once, and none of them counted it as a crash.

The receiver answers 500 until the outage ends, so the deliveries are still pending when the server
stops. Real clock (a child process cannot follow MockClock); every wait has a deadline. The cluster is
stopped in ``finally`` whatever happens, as is the process.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError

from config import Keys, load_or_create_keys
from engine.store import EmbeddedPostgres, accounts, apply_migrations, open_database, webhooks
from http_api.context import ApiContext
from tests.helpers import live_ws
from tests.helpers.cluster import own_cluster
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Received, Receiver, serve_receiver

OUTAGE = 60.0
REQUEST_LIMIT = 10.0  # no request may take longer than this, outage or not
DELIVERIES = 5


@dataclass
class RefusingReceiver(Receiver):
    """Answers 500 while ``refusing`` (the deliveries stay pending), then 200 as ``Receiver`` does."""

    refusing: bool = True
    refused: set[str] = field(default_factory=set)

    async def answer(self, item: Received, receive, send) -> None:  # type: ignore[no-untyped-def]
        if not self.refusing:
            await super().answer(item, receive, send)
            return
        self.refused.add(item.event_id)
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"not yet"})


@dataclass
class Ingest:
    """What the POST /v1/streaming/events loop saw: the events answered 200, the 503s, anything else."""

    acknowledged: list[datetime] = field(default_factory=list)  # each event's own (unique) timestamp
    unavailable: int = 0
    wrong: list[str] = field(default_factory=list)
    slowest: float = 0.0


@dataclass
class Watcher:
    """The WebSocket client's view: every stream event's (seq, timestamp), and how often it resumed."""

    seen: list[tuple[int, datetime]] = field(default_factory=list)
    resumed: int = 0


@pytest.fixture
def cluster() -> Iterator[EmbeddedPostgres]:
    """A cluster of this test's own (it is stopped and started again: never the session's)."""
    with own_cluster("st-outage-") as server:
        yield server


async def _set_up(dsn: str, keys: Keys, receiver: RefusingReceiver) -> live_ws.Label:
    """Migrations, an enterprise label (its rate limits never get in the way) with a track, a token and a
    webhook endpoint pointing at ``receiver``, with deliveries queued for it."""
    async with open_database(dsn, max_size=2) as db:
        await apply_migrations(db)
        label = await live_ws.label(db, ApiContext(lambda: db, [], live_ws.settings(), keys))
        await accounts.update_organization(db, label.org_id, tier="enterprise")
        endpoint, secret = await webhooks.create_endpoint(db, keys.token_encryption_key, label.org_id,
                                                          webhooks.NewEndpoint(url=f"{receiver.url}/hook"))
        receiver.secrets["/hook"] = [secret]
        for _ in range(DELIVERIES):
            await webhooks.send_test_event(db, label.org_id, endpoint.id, now=datetime.now(UTC))
    return label


async def _ingest(base: str, label: live_ws.Label, ingest: Ingest, stop: trio.Event) -> None:
    """POST one new event every 0.2 s until ``stop``; each has its own timestamp, so it can be recognised."""
    first = datetime.now(UTC) - timedelta(minutes=30)
    headers = {"Authorization": f"Bearer {label.token}"}
    # One connection per request: a 503 sent before the request body was read leaves a kept-alive
    # connection unable to answer the next request (issue 13, item 2, fixed on its own).
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=REQUEST_LIMIT, limits=fresh) as client:
        n = 0
        while not stop.is_set():
            n += 1
            stamp = first + timedelta(milliseconds=n)
            event = {"id": f"outage-{n}", "trackId": str(label.track_id), "platform": "spotify", "country": "SE",
                     "timestamp": stamp.isoformat()}
            began = trio.current_time()
            try:
                response = await client.post("/v1/streaming/events", json={"events": [event]})
            except httpx.TransportError as exc:  # a timeout included: a request that hangs is a failure
                ingest.wrong.append(f"event {n}: {exc!r}")
                continue
            ingest.slowest = max(ingest.slowest, trio.current_time() - began)
            if response.status_code == 200:
                ingest.acknowledged.append(stamp)
            elif (response.status_code == 503 and response.headers.get("retry-after", "").isdigit()
                  and response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"):
                ingest.unavailable += 1
            else:
                ingest.wrong.append(f"event {n}: {response.status_code} {response.headers} {response.text}")
            await trio.sleep(0.2)


async def _watch(base: str, label: live_ws.Label, watcher: Watcher) -> None:
    """Follow the track's stream forever, reconnecting (and resuming after the last seq seen) when cut."""
    url = f"{base.replace('http://', 'ws://')}/v1/streaming/ws/{label.track_id}?token={label.token}"
    resume = ""
    while True:
        try:
            async with live_ws.open_ws(url + resume) as ws:
                while True:
                    message = msgspec.json.decode(await ws.get_message())
                    if message["event"] == "subscribed":
                        after = watcher.seen[-1][0] if watcher.seen else message["data"]["seq"]
                        resume = f"&epoch={message['data']['epoch']}&after={after}"
                        watcher.resumed += bool(message["data"]["recovered"])
                    elif message["event"] == "stream":
                        stamp = datetime.fromisoformat(message["data"]["timestamp"].replace("Z", "+00:00"))
                        watcher.seen.append((message["seq"], stamp))
                        resume = resume.rsplit("&after=", 1)[0] + f"&after={message['seq']}"
        except (ConnectionClosed, HandshakeError, OSError):
            await trio.sleep(0.5)  # the server refused us (database down) or dropped us: try again


async def _until(what: str, check: Callable[[], bool], within: float) -> None:
    """Poll ``check()`` until true (what it watches has no event to wait on: polling is fine in a test)."""
    with trio.move_on_after(within):
        while not check():  # noqa: ASYNC110
            await trio.sleep(0.05)
        return
    raise AssertionError(f"not within {within}s: {what}")


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health/ready")).status_code == 200
    except httpx.TransportError:
        return False


# trio-websocket 0.12 leaves the socket of a handshake the server refused (503 while the database is down)
# for the garbage collector; that is the client library's, not the service's. The test collects them
# itself before it ends: collected later, they failed whichever test ran next, outside this filter.
@pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning")
async def test_the_service_rides_out_a_database_outage(tmp_path: Path, cluster: EmbeddedPostgres) -> None:
    await trio.Path(tmp_path).chmod(0o755)
    data_dir, port = tmp_path / "var", free_port()
    base = f"http://127.0.0.1:{port}"
    keys = load_or_create_keys(data_dir)  # the process reads the same keys from the data directory
    env = {**os.environ, "SONGTRACK_DATABASE_URL": cluster.dsn(), "SONGTRACK_SANDBOX": "off",
           "SONGTRACK_WEBHOOKS_SCHEDULE": "fast", "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8",
           "SONGTRACK_WEBHOOKS_TIMEOUT": "3"}
    engine = SongtrackProcess(["run", "--data-dir", str(data_dir), "--port", str(port)], tmp_path / "run.log", env)
    ingest, watcher, stop_ingest = Ingest(), Watcher(), trio.Event()
    try:
        with trio.fail_after(OUTAGE + 90):
            async with trio.open_nursery() as nursery:
                receiver = await serve_receiver(nursery, RefusingReceiver)
                label = await _set_up(cluster.dsn(), keys, receiver)
                await engine.start()
                await engine.wait_ready(base)
                nursery.start_soon(_watch, base, label, watcher)
                nursery.start_soon(_ingest, base, label, ingest, stop_ingest)
                await _until("each delivery refused once", lambda: len(receiver.refused) == DELIVERIES, 20)
                await _until("some events acknowledged", lambda: len(ingest.acknowledged) >= 5, 10)

                await trio.to_thread.run_sync(cluster.stop)
                await trio.sleep(OUTAGE)
                assert engine.process is not None and engine.process.returncode is None, engine.output
                during = (ingest.unavailable, len(ingest.acknowledged))
                await trio.to_thread.run_sync(cluster.start)
                receiver.refusing = False

                async with httpx.AsyncClient(base_url=base, timeout=REQUEST_LIMIT) as client:
                    with trio.fail_after(5):  # /health/ready is 200 within 5 s of the database's return
                        while not await _ready(client):  # noqa: ASYNC110
                            await trio.sleep(0.1)
                await _until("a delivery resumed", lambda: bool(receiver.received), 5)
                await _until("every delivery arrived", lambda: len(receiver.received) >= DELIVERIES, 15)
                acknowledged_before = len(ingest.acknowledged)
                await _until("ingest works again", lambda: len(ingest.acknowledged) > acknowledged_before + 5, 10)
                stop_ingest.set()
                await _until("the client saw every acknowledged event",
                             lambda: set(ingest.acknowledged) <= {stamp for _, stamp in watcher.seen}, 15)
                nursery.cancel_scope.cancel()
            async with httpx.AsyncClient(base_url=base, timeout=REQUEST_LIMIT) as client:
                status = (await client.get("/v1/engine/status",
                                           headers={"Authorization": f"Bearer {label.token}"})).json()
        assert engine.process.returncode is None, engine.output
    finally:
        await engine.kill()
        gc.collect()

    assert not ingest.wrong, ingest.wrong[:5]
    assert during[0] > 0, "no request met the outage"
    assert ingest.slowest < REQUEST_LIMIT
    seqs = [seq for seq, _ in watcher.seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a repeat in the client's stream"
    assert watcher.resumed >= 1
    assert {item.event_id for item in receiver.received} == receiver.refused
    assert all(item.verified_standard and item.verified_seed for item in receiver.received)
    # Waiting for the database was no crash: nothing restarted, nothing failed.
    assert {(a["state"], a["restarts"]) for a in status["actors"]} <= {("running", 0), ("waiting_for_database", 0)}
    output = engine.output
    assert "escalating" not in output and "crashed" not in output, output
    assert output.count("the database is unavailable") == output.count("the database is back after") == 1, output
    for actor in ("status-publisher", "webhook-dispatcher"):
        assert output.count(f"{actor} is waiting for the database") == 1, output
