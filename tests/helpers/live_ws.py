"""What the live stream WebSocket tests share: the API served by hypercorn on 127.0.0.1:<free port> in the
test's own trio run (on the test's database), a label (organization, owner, session, track, token) and
events ingested through the store, as any source's are. Real time: the database and MockClock do not mix.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from config import Keys, Settings, load
from engine.passwords import hash_password
from engine.store import Database
from engine.store import stream_events as store
from engine.store.migrate import discover
from http_api.context import ApiContext
from songtrack.api import build_api
from tests.helpers.factories import create_owner, create_session, create_track

__all__ = [
    "PASSWORD", "Label", "Server", "close_reason", "ingest", "label", "next_event", "next_json", "open_ws", "serve",
    "settings",
]

PASSWORD = "live-password"  # every label's owner logs in with it

_ids = itertools.count()


@dataclass(frozen=True)
class Server:
    ws_url: str
    ctx: ApiContext

    @property
    def http_url(self) -> str:
        return self.ws_url.replace("ws://", "http://")


@dataclass(frozen=True)
class Label:
    org_id: uuid.UUID
    track_id: uuid.UUID
    token: str
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str


def settings(**live: str) -> Settings:
    """Settings with sandbox mode off, one allowed origin, and ``[live]`` overrides (``ping_interval="1"``)."""
    env = {"SONGTRACK_SANDBOX": "off", "SONGTRACK_SERVER_CORS_ORIGINS": "https://dash.example.com"}
    env.update({f"SONGTRACK_LIVE_{name.upper()}": value for name, value in live.items()})
    return load(env)


async def serve(nursery: trio.Nursery, db: Database, keys: Keys, settings: Settings) -> Server:
    """The API (its LiveHub and job runner included) serving in ``nursery`` until it is cancelled."""
    ctx = ApiContext(lambda: db, discover(), settings, keys)
    urls = await nursery.start(build_api(ctx).serve, "127.0.0.1:0", trio.sleep_forever)
    return Server(urls[0].replace("http://", "ws://"), ctx)


async def label(db: Database, ctx: ApiContext) -> Label:
    """A new organization whose owner has a session, a track and an access token for it."""
    n = next(_ids)
    email = f"live{n}-{uuid.uuid4().hex[:6]}@example.com"
    org, user = await create_owner(db, email, org_name=f"Label {n}", password_hash=await hash_password(PASSWORD))
    session, _ = await create_session(db, user, ttl=timedelta(days=1), user_agent=None, ip=None)
    track = await create_track(db, org.id)
    token = ctx.tokens.mint(user_id=user.id, org_id=org.id, role="owner", session_id=session.id)
    return Label(org.id, track, token, user.id, session.id, email)


async def ingest(db: Database, label: Label, count: int, *, track_id: uuid.UUID | None = None) -> None:
    """``count`` events of the label's track (or ``track_id``), a second apart and ending now."""
    now = datetime.now(UTC)
    events = [store.NewEvent(event_id=f"e{next(_ids)}", track_id=track_id or label.track_id, platform="spotify",
                             country="SE" if i % 2 else "US", occurred_at=now - timedelta(seconds=count - i))
              for i in range(count)]
    for start in range(0, count, 1000):
        await store.ingest(db, label.org_id, events[start:start + 1000], received_at=now)


@asynccontextmanager
async def open_ws(url: str, *, extra_headers: list[tuple[str, str]] | None = None,
                  message_queue_size: int = 1) -> AsyncIterator[WebSocketConnection]:
    """A WebSocket client on ``url`` (``ws://host:port/path?query``) whose TCP socket is closed however it
    ends. trio-websocket's own ``open_websocket_url`` leaves it open after a close the server started, and
    after a refused handshake (``HandshakeError``): an unclosed socket that warns in some later test."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    resource = parts.path + (f"?{parts.query}" if parts.query else "")
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    try:
        async with trio.open_nursery() as nursery:  # the connection's reader task
            ws = await wrap_client_stream(nursery, stream, parts.netloc, resource, extra_headers=extra_headers,
                                          message_queue_size=message_queue_size)
            try:
                yield ws
            finally:
                await ws.aclose()
    except BaseExceptionGroup as group:  # the caller catches ConnectionClosed, HandshakeError… as themselves
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        await stream.aclose()


async def next_json(ws: WebSocketConnection) -> dict[str, object]:
    with trio.fail_after(10):
        message = await ws.get_message()
    decoded = msgspec.json.decode(message)
    assert isinstance(decoded, dict)
    return decoded


async def next_event(ws: WebSocketConnection, event: str) -> dict[str, object]:
    """The next message of kind ``event``, skipping pings and counts snapshots."""
    while True:
        message = await next_json(ws)
        if message["event"] == event:
            return message
        assert message["event"] in ("ping", "counts", "authenticated"), message


async def close_reason(ws: WebSocketConnection) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with trio.fail_after(15):
        while True:
            try:
                await ws.get_message()
            except ConnectionClosed as closed:
                reason = closed.reason
                break
    return reason.code, reason.reason or ""
