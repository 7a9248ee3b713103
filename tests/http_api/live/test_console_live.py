"""``/app/live``: the live stream WebSocket of the console's pages, signed in by the console's session cookie
instead of a token. Real hypercorn, real WebSocket clients (trio-websocket), a real PostgreSQL; real time.
"""

from __future__ import annotations

import httpx
import msgspec
import pytest
import trio
from trio_websocket import WebSocketConnection

from config import Keys
from engine.store import Database, sessions
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from http_api.live.ws import CloseCode
from tests.helpers.live_ws import Label, Server, close_reason, ingest, label, next_event, next_json, open_ws, serve
from tests.helpers.live_ws import settings as live_settings


@pytest.fixture
async def server(nursery: trio.Nursery, db: Database, keys: Keys) -> Server:
    return await serve(nursery, db, keys, live_settings(ping_interval="1"))


def _headers(server: Server, keys: Keys, who: Label, *, origin: str | None = None) -> list[tuple[str, str]]:
    cookie = f"{SESSION_COOKIE}={session_cookie(keys, who.session_id, who.user_id)}"
    return [("Cookie", cookie), ("Origin", origin or server.http_url)]


async def _subscribe(ws: WebSocketConnection, who: Label) -> dict[str, object]:
    await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(who.track_id)}).decode())
    reply = (await next_event(ws, "subscribed"))["data"]
    assert isinstance(reply, dict)
    return reply


async def test_a_console_page_watches_its_tracks_with_the_session_cookie_alone(
        server: Server, db: Database, keys: Keys) -> None:
    who = await label(db, server.ctx)
    async with open_ws(f"{server.ws_url}/app/live", extra_headers=_headers(server, keys, who)) as ws:
        hello = await next_json(ws)
        assert hello["event"] == "authenticated" and hello["data"]["expiresAt"] is None  # type: ignore[index]
        assert (await _subscribe(ws, who))["recovered"] is False
        await ingest(db, who, 1)
        stream = await next_event(ws, "stream")
        assert stream["seq"] == 1 and stream["data"]["trackId"] == str(who.track_id)  # type: ignore[index]
        # The connection takes no token: it is the cookie's session, nothing else.
        await ws.send_message(msgspec.json.encode({"type": "auth", "token": who.token}).decode())
        error = await next_event(ws, "error")
        assert error["data"]["code"] == "BAD_MESSAGE"  # type: ignore[index]


async def test_another_organizations_track_is_not_found_on_a_cookie_connection(
        server: Server, db: Database, keys: Keys) -> None:
    who, other = await label(db, server.ctx), await label(db, server.ctx)
    async with open_ws(f"{server.ws_url}/app/live", extra_headers=_headers(server, keys, who)) as ws:
        await next_json(ws)
        await ws.send_message(msgspec.json.encode({"type": "subscribe", "trackId": str(other.track_id)}).decode())
        error = await next_event(ws, "error")
        assert error["data"]["code"] == "NOT_FOUND"  # type: ignore[index]


@pytest.mark.parametrize("case", ["no cookie", "forged cookie", "another site", "no origin"])
async def test_the_handshake_is_refused_without_a_session_cookie_from_our_own_pages(
        server: Server, db: Database, keys: Keys, case: str) -> None:
    who = await label(db, server.ctx)
    headers = _headers(server, keys, who)
    if case == "no cookie":
        headers = [h for h in headers if h[0] != "Cookie"]
    elif case == "forged cookie":
        forged = session_cookie(Keys(b"k" * 32, b"e" * 32), who.session_id, who.user_id)
        headers = [("Cookie", f"{SESSION_COOKIE}={forged}"), ("Origin", server.http_url)]
    elif case == "another site":  # a page elsewhere cannot use a visitor's cookie (cross-site WebSocket hijacking)
        headers = _headers(server, keys, who, origin="https://dash.example.com")
    else:  # browsers always send Origin; a handshake without one is not a console page's
        headers = [h for h in headers if h[0] != "Origin"]
    # Refused before the upgrade, with a plain 401 (a real client's refused handshake leaves its socket open).
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **dict(headers)}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.http_url}/app/live", headers=upgrade)
    assert response.status_code == 401 and "sign in" in response.text


async def test_signing_out_closes_the_pages_connection_within_a_ping_interval(
        server: Server, db: Database, keys: Keys) -> None:
    who = await label(db, server.ctx)
    async with open_ws(f"{server.ws_url}/app/live", extra_headers=_headers(server, keys, who)) as ws:
        await next_json(ws)
        await _subscribe(ws, who)
        assert await sessions.revoke_session(db, who.org_id, who.user_id, who.session_id, "logout")
        code, reason = await close_reason(ws)
    assert code == CloseCode.UNAUTHORIZED and "sign in again" in reason
