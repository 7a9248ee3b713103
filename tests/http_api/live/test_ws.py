"""The live stream WebSockets, end to end: hypercorn serving the app on a real port, real WebSocket clients
(trio-websocket), a real PostgreSQL. Events are ingested through the store, as any source's are, and the
LiveHub finds them through LISTEN/NOTIFY. Real time throughout (the database and MockClock do not mix);
every wait is bounded.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import msgspec
import pytest
import trio
from prometheus_client import REGISTRY
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from config import Keys
from engine.store import Database, live_feed, sessions
from engine.store import alerts as alert_store
from engine.store.migrate import discover
from http_api.auth.tokens import TokenService
from http_api.context import ApiContext
from http_api.live import ws as live_ws
from songtrack.api import build_api
from tests.helpers.factories import create_track
from tests.helpers.live_ws import Label, Server, close_reason, next_event, next_json, open_ws, serve, settings
from tests.helpers.live_ws import ingest as _ingest
from tests.helpers.live_ws import label as _label


@pytest.fixture
async def server(nursery: trio.Nursery, db: Database, keys: Keys) -> Server:
    return await serve(nursery, db, keys, settings())


async def _ingest_paced(db: Database, label: Label, total: int, *, batch: int = 200) -> None:
    """``total`` events at about 4,000 a second: a steady stream, not one burst."""
    for _ in range(total // batch):
        await _ingest(db, label, batch)
        await trio.sleep(0.05)






async def _streams(ws: WebSocketConnection, count: int) -> list[int]:
    return [int((await next_event(ws, "stream"))["seq"]) for _ in range(count)]  # type: ignore[call-overload]




@asynccontextmanager
async def _connected(url: str, token: str, **headers: str) -> AsyncIterator[WebSocketConnection]:
    """A connection that has sent its auth message and read the ``authenticated`` reply."""
    async with open_ws(url, extra_headers=list(headers.items())) as ws:
        await ws.send_message(msgspec.json.encode({"type": "auth", "token": token}).decode())
        assert (await next_json(ws))["event"] == "authenticated"
        yield ws


async def _subscribe(ws: WebSocketConnection, track_id: uuid.UUID, **resume: object) -> dict[str, object]:
    await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(track_id), **resume}).decode())
    reply = (await next_event(ws, "subscribed"))["data"]
    assert isinstance(reply, dict)
    return reply




async def test_a_client_that_reconnects_with_resume_gets_every_event_exactly_once(
        server: Server, db: Database) -> None:
    label = await _label(db, server.ctx)
    url = f"{server.ws_url}/v1/streaming/ws"
    async with _connected(url, label.token) as ws:
        reply = await _subscribe(ws, label.track_id)
        assert reply["seq"] == 0 and reply["recovered"] is False
        await _ingest(db, label, 30)
        first = await _streams(ws, 30)
        assert first == list(range(1, 31))
    await _ingest(db, label, 45)  # while the client is away
    async with _connected(url, label.token) as ws:
        reply = await _subscribe(ws, label.track_id, epoch=reply["epoch"], after=30)
        assert reply["recovered"] is True and reply["seq"] == 75
        await _ingest(db, label, 5)  # live again, right behind the replay
        assert await _streams(ws, 50) == list(range(31, 81))
        counts = await next_event(ws, "counts")
        assert counts["seq"] == 80
        data = counts["data"]
        assert isinstance(data, dict) and data["streams"] == 80 and data["countries"] == {"SE": 39, "US": 41}
        with trio.move_on_after(0.5):
            extra = await next_event(ws, "stream")
            pytest.fail(f"an event arrived twice: {extra}")


async def test_the_per_track_route_takes_the_token_and_resume_in_its_query(server: Server, db: Database) -> None:
    label = await _label(db, server.ctx)
    await _ingest(db, label, 12)
    head = (await live_feed.heads(db, [label.track_id]))[label.track_id]
    url = f"{server.ws_url}/v1/streaming/ws/{label.track_id}?token={label.token}&epoch={head.epoch}&after=10"
    async with open_ws(url) as ws:
        assert (await next_json(ws))["event"] == "authenticated"
        reply = await next_event(ws, "subscribed")
        assert reply["data"] == {"trackId": str(label.track_id), "epoch": head.epoch, "seq": 12, "recovered": True}
        assert await _streams(ws, 2) == [11, 12]
    async with open_ws(f"{server.ws_url}/v1/streaming/ws/{label.track_id}?token={label.token}"
                                  "&epoch=another&after=3") as ws:
        reply = await next_event(ws, "subscribed")
        assert reply["data"]["recovered"] is False  # type: ignore[index]
        counts = await next_event(ws, "counts")  # the fresh snapshot a client rebuilds from
        assert counts["data"]["streams"] == 12  # type: ignore[index]


async def test_several_tracks_on_one_connection_and_no_track_of_another_label(server: Server, db: Database) -> None:
    label, other = await _label(db, server.ctx), await _label(db, server.ctx)
    second = await create_track(db, label.org_id, title="B-side")
    async with _connected(f"{server.ws_url}/v1/streaming/ws", label.token) as ws:
        await _subscribe(ws, label.track_id)
        await _subscribe(ws, second)
        await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(other.track_id)}).decode())
        error = await next_event(ws, "error")
        assert error["data"]["code"] == "NOT_FOUND"  # type: ignore[index]
        await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(second)}).decode())
        assert (await next_event(ws, "error"))["data"]["code"] == "ALREADY_SUBSCRIBED"  # type: ignore[index]
        await _ingest(db, label, 2, track_id=second)
        await _ingest(db, other, 3)
        await _ingest(db, label, 1)
        received = [(await next_event(ws, "stream"))["data"]["trackId"] for _ in range(3)]  # type: ignore[index]
        assert sorted(received) == sorted([str(second)] * 2 + [str(label.track_id)])
        await ws.send_message(msgspec.json.encode({"type": "unsubscribe", "trackId": str(second)}).decode())
        assert (await next_event(ws, "unsubscribed"))["data"] == {"trackId": str(second)}
        await _ingest(db, label, 1, track_id=second)
        await _ingest(db, label, 1)
        assert (await next_event(ws, "stream"))["data"]["trackId"] == str(label.track_id)  # type: ignore[index]
        await ws.send_message("{not json")
        assert (await next_event(ws, "error"))["data"]["code"] == "BAD_MESSAGE"  # type: ignore[index]
        await ws.send_message('{"type":"auth","token":"garbage"}')  # a refresh gone wrong
        assert (await next_event(ws, "error"))["data"]["code"] == "UNAUTHORIZED"  # type: ignore[index]
        await _ingest(db, label, 1)
        assert (await next_event(ws, "stream"))["data"]["trackId"] == str(label.track_id)  # type: ignore[index]


@pytest.mark.parametrize(("first", "code"), [
    ('{"type":"subscribe","trackId":"00000000-0000-0000-0000-000000000000"}', live_ws.CloseCode.BAD_FIRST_MESSAGE),
    ("hello", live_ws.CloseCode.BAD_FIRST_MESSAGE),
    ('{"type":"auth","token":"not-a-jwt"}', live_ws.CloseCode.UNAUTHORIZED),
])
async def test_a_bad_first_message_closes_the_connection(server: Server, first: str, code: int) -> None:
    async with open_ws(f"{server.ws_url}/v1/streaming/ws") as ws:
        await ws.send_message(first)
        closed = await close_reason(ws)
    assert closed[0] == code


async def test_no_auth_in_time_closes_with_4408(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_ws, "AUTH_TIMEOUT", 0.3)
    async with open_ws(f"{server.ws_url}/v1/streaming/ws") as ws:
        assert (await close_reason(ws))[0] == live_ws.CloseCode.AUTH_TIMEOUT


async def test_an_ended_session_cannot_connect(server: Server, db: Database) -> None:
    label = await _label(db, server.ctx)
    await sessions.revoke_session(db, label.org_id, label.user_id, label.session_id, "logout")
    async with open_ws(f"{server.ws_url}/v1/streaming/ws/{label.track_id}?token={label.token}") as ws:
        assert (await close_reason(ws))[0] == live_ws.CloseCode.UNAUTHORIZED


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://dash.example.com", True), ("https://evil.example.net", False), ("null", False)])
async def test_origin_is_checked_before_the_upgrade(server: Server, db: Database, origin: str,
                                                    allowed: bool) -> None:
    label = await _label(db, server.ctx)
    if allowed:
        async with _connected(f"{server.ws_url}/v1/streaming/ws", label.token, Origin=origin) as ws:
            await _subscribe(ws, label.track_id)
        return
    # A browser's handshake from another site: refused before the upgrade, with a plain 403.
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": origin}
    async with httpx.AsyncClient() as http:
        response = await http.get(server.ws_url.replace("ws://", "http://") + "/v1/streaming/ws", headers=upgrade)
    assert response.status_code == 403 and "cors_origins" in response.text


async def test_a_token_that_expires_on_a_live_connection_closes_it_unless_refreshed(
        server: Server, db: Database) -> None:
    label = await _label(db, server.ctx)
    # 5 s tokens: expiry is whole seconds after issue, so a token may have up to a second less than that.
    short = TokenService(server.ctx.keys.jwt_signing_key, 5, server.ctx.now)

    def token() -> str:
        return short.mint(user_id=label.user_id, org_id=label.org_id, role="owner", session_id=label.session_id)

    async with _connected(f"{server.ws_url}/v1/streaming/ws", token()) as refreshed:
        async with _connected(f"{server.ws_url}/v1/streaming/ws", token()) as lapsing:
            await trio.sleep(2.5)
            await refreshed.send_message(msgspec.json.encode({"type": "auth", "token": token()}).decode())
            assert (await next_event(refreshed, "authenticated"))["data"]["pingInterval"] == 25.0  # type: ignore[index]
            code, reason = await close_reason(lapsing)
            assert code == live_ws.CloseCode.UNAUTHORIZED and "expired" in reason
        await _subscribe(refreshed, label.track_id)  # still open past the first token's expiry
        assert (await close_reason(refreshed))[0] == live_ws.CloseCode.UNAUTHORIZED  # the second one lapses too


async def test_a_slow_client_is_closed_without_delaying_a_fast_one(server: Server, db: Database) -> None:
    """The slow client stops reading with a small socket buffer, so the server's send buffer (at most 4 MB
    here) and then its backlog of 1,000 events fill; the fast one reads everything meanwhile. The slow one
    is closed, and resuming from the last seq it got brings it every event."""
    label = await _label(db, server.ctx)
    resource = f"/v1/streaming/ws/{label.track_id}?token={label.token}"
    total = 40_000
    frames, slow_closes = _counted("songtrack_live_frames_sent_total"), _counted("songtrack_live_slow_closes_total")
    async with trio.open_nursery() as nursery:
        slow, epoch = await _stalled_client(nursery, server.ws_url, resource)
        async with open_ws(server.ws_url + resource) as fast:
            await next_event(fast, "subscribed")
            nursery.start_soon(_ingest_paced, db, label, total)
            with trio.fail_after(120):
                assert await _streams(fast, total) == list(range(1, total + 1))
        got, code = await _drain(slow)
        await slow._stream.aclose()  # as _websocket does for the others
        # A client that still reads gets 4429; one stuck on a full socket cannot take a close frame and
        # sees the connection drop (1006, or 1002 when it was cut mid-frame): both mean "resume".
        assert code in (live_ws.CloseCode.SLOW, 1002, 1006)
        assert got == list(range(1, len(got) + 1)) and len(got) < total
        assert _counted("songtrack_live_slow_closes_total") - slow_closes == 1
        assert _counted("songtrack_live_frames_sent_total") - frames >= total + len(got)  # the fast one's, and more
        nursery.cancel_scope.cancel()
    async with open_ws(f"{server.ws_url}{resource}&epoch={epoch}&after={got[-1] if got else 0}") as ws:
        assert (await next_event(ws, "subscribed"))["data"]["recovered"] is True  # type: ignore[index]
        with trio.fail_after(60):
            assert await _streams(ws, total - len(got)) == list(range(len(got) + 1, total + 1))


def _counted(name: str) -> float:
    """A live-stream count of this process (``engine.metrics``), shared by its tests: compared, not read."""
    return REGISTRY.get_sample_value(name) or 0.0


async def _drain(ws: WebSocketConnection) -> tuple[list[int], int]:
    """The seqs of every stream event still readable, and the close code."""
    seqs: list[int] = []
    with trio.fail_after(60):
        while True:
            try:
                message = msgspec.json.decode(await ws.get_message())
            except ConnectionClosed as closed:
                code = closed.reason.code
                break
            if message["event"] == "stream":
                seqs.append(message["seq"])
    return seqs, code


async def _stalled_client(nursery: trio.Nursery, ws_url: str, resource: str) -> tuple[WebSocketConnection, str]:
    host, port = ws_url.removeprefix("ws://").rsplit(":", 1)
    sock = trio.socket.socket()
    sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, 4096)  # no autotuning up to 32 MB
    await sock.connect((host, int(port)))
    ws = await wrap_client_stream(nursery, trio.SocketStream(sock), host, resource, message_queue_size=1)
    reply = await next_event(ws, "subscribed")
    return ws, reply["data"]["epoch"]  # type: ignore[index]


async def test_an_event_ingested_through_one_server_reaches_a_client_of_another(
        nursery: trio.Nursery, server: Server, db: Database, keys: Keys) -> None:
    other = await serve(nursery, db, keys, settings(poll_interval="30"))  # NOTIFY only: no poll to hide behind
    label = await _label(db, server.ctx)
    async with _connected(f"{other.ws_url}/v1/streaming/ws", label.token) as ws:
        await _subscribe(ws, label.track_id)
        await _ingest(db, label, 3)
        assert await _streams(ws, 3) == [1, 2, 3]


async def test_a_graceful_stop_tells_live_clients_to_reconnect(nursery: trio.Nursery, db: Database,
                                                               keys: Keys) -> None:
    ctx = ApiContext(lambda: db, discover(), settings(), keys)
    stop = trio.Event()
    urls = await nursery.start(build_api(ctx).serve, "127.0.0.1:0", stop.wait)
    label = await _label(db, ctx)
    async with _connected(urls[0].replace("http://", "ws://") + "/v1/streaming/ws", label.token) as ws:
        await _subscribe(ws, label.track_id)
        stop.set()
        with trio.fail_after(5):  # well before hypercorn's graceful deadline (10 s) would cut it
            code, reason = await close_reason(ws)
    assert code == live_ws.CloseCode.GOING_AWAY and "reconnect" in reason


@asynccontextmanager
async def _on_alerts(server: Server, db: Database) -> AsyncIterator[tuple[Label, WebSocketConnection,
                                                                          WebSocketConnection]]:
    """A label's connection and another organization's, each subscribed to its alerts channel."""
    label, other = await _label(db, server.ctx), await _label(db, server.ctx)
    url = f"{server.ws_url}/v1/streaming/ws"
    async with _connected(url, label.token) as ws, _connected(url, other.token) as theirs:
        for connection in (ws, theirs):
            await connection.send_message('{"type":"subscribe","channel":"alerts"}')
            assert (await next_event(connection, "subscribed"))["data"] == {"channel": "alerts"}
        yield label, ws, theirs


async def _nothing_leaks_to(theirs: WebSocketConnection, event: str) -> None:
    with trio.move_on_after(0.5):
        leaked = await next_event(theirs, event)
        pytest.fail(f"another organization's connection got {leaked}")


async def test_alerts_reach_the_connections_of_their_organization_that_asked(server: Server, db: Database) -> None:
    async with _on_alerts(server, db) as (label, ws, theirs):
        async with db.transaction() as tx:  # as the aggregator commits what its rules fired
            fired = await alert_store.insert_alerts(tx, [alert_store.NewAlert(
                organization_id=label.org_id, campaign_id=None, type="budget.warning", dedupe_key="k1",
                title="80 % of the budget spent", data={"threshold": 0.8})], fired_at=datetime.now(UTC))
        alert = (await next_event(ws, "alert"))["data"]
        assert alert["id"] == str(fired[0].id) and alert["type"] == "budget.warning"  # type: ignore[index]
        assert alert["data"] == {"threshold": 0.8}  # type: ignore[index]
        await _nothing_leaks_to(theirs, "alert")
        await ws.send_message('{"type":"unsubscribe","channel":"alerts"}')
        assert (await next_event(ws, "unsubscribed"))["data"] == {"channel": "alerts"}


async def test_the_organization_s_webhook_events_come_on_the_alerts_channel_as_sent(
        server: Server, db: Database) -> None:
    async with _on_alerts(server, db) as (label, ws, theirs):
        headers = {"Authorization": f"Bearer {label.token}"}
        async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as api:
            created = await api.post("/v1/campaigns", json={
                "name": "Spring push", "budget": 500, "startDate": "2027-03-01T00:00:00Z",
                "endDate": "2027-04-01T00:00:00Z"})
        assert created.status_code == 201, created.text
        frame = await next_event(ws, "event")
        stored = await db.fetchval("SELECT payload::text FROM webhook_events WHERE organization_id = $1", label.org_id)
        assert frame["data"] == msgspec.json.decode(stored)  # the envelope the webhooks carry
        assert frame["data"]["type"] == "campaign.created"  # type: ignore[index]
        assert frame["data"]["data"]["campaignId"] == created.json()["id"]  # type: ignore[index]
        await _nothing_leaks_to(theirs, "event")


async def test_a_client_that_asks_for_batches_gets_several_messages_a_line_each(server: Server, db: Database) -> None:
    label = await _label(db, server.ctx)
    async with open_ws(f"{server.ws_url}/v1/streaming/ws") as ws:
        await ws.send_message(msgspec.json.encode({"type": "auth", "token": label.token, "batch": True}).decode())
        await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(label.track_id)}).decode())
        messages: list[dict[str, object]] = []
        largest = 0
        with trio.fail_after(10):
            while not any(m["event"] == "subscribed" for m in messages):
                # Events stored before the subscription is set up would be its history, not its feed.
                received = await ws.get_message()
                assert isinstance(received, str)
                messages += [msgspec.json.decode(line) for line in received.split("\n")]
        await _ingest(db, label, 300)  # stored in one transaction: the hub hands them over at once
        with trio.fail_after(10):
            while sum(m["event"] == "stream" for m in messages) < 300:
                received = await ws.get_message()
                assert isinstance(received, str)
                lines = received.split("\n")
                largest = max(largest, len(lines))
                messages += [msgspec.json.decode(line) for line in lines]
    assert largest > 1
    assert messages[0]["event"] == "authenticated" and messages[1]["event"] == "subscribed"
    assert [m["seq"] for m in messages if m["event"] == "stream"] == list(range(1, 301))
