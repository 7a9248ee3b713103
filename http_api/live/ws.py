"""The live stream WebSockets: ``/v1/streaming/ws`` (any number of tracks) and ``/v1/streaming/ws/{trackId}``
(subscribed to its track at once). The protocol, its messages and close codes are in docs/live-streams.md;
the fan-out itself is the process's ``LiveFeed`` (``engine.live``), which the app is handed.

A connection waiting for its client holds one task, for each task costs memory with thousands of
connections: its own, which reads (commands) and, between messages, pings and closes a connection gone
silent or past its access token's expiry without a fresh ``auth``. A writer, the only task that sends, runs
only while frames wait in the connection's FrameQueue (several frames a write; most of the hub's go out
without one, ``FrameQueue.publish``), and closes a connection stuck behind an overflowed backlog. A
subscribe runs in a task of its own while its replay lasts.

The console's pages watch through ``/app/live``: the same connection, signed in by the console's session
cookie instead of a token (no token is ever readable by a page's script). Its handshake must come from our
own origin, and instead of a token's expiry the connection watches its session row: logout or "end session"
closes it with 4401 within a ping interval. The first task that decides to close records the
code and cancels the others. When a graceful stop begins, every connection is closed with "reconnect"
(``GOING_AWAY``): they would hold the stop until its deadline.
"""

from __future__ import annotations

import contextvars
import functools
import math
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Literal

import msgspec
import trio
from quart import Blueprint, Response, websocket

from engine.live import LiveFeed
from engine.metrics import LIVE_CONNECTIONS, LIVE_FRAMES_SENT, LIVE_SLOW_CLOSES
from engine.store.errors import StoreUnavailable
from engine.store.sessions import SessionCheck, check_session
from http_api.console.guard import live_session
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.live.frames import FrameQueue, error_frame, frame
from http_api.live.wire import raw_frames
from http_api.server import ON_SHUTDOWN

__all__ = ["AUTH_TIMEOUT", "CloseCode", "live_blueprint"]

AUTH_TIMEOUT = 10.0  # seconds for the first message
MAX_SUBSCRIPTIONS = 100  # tracks per connection
SILENCE_GRACE = 10.0  # seconds past a ping before a silent connection is taken for dead
STUCK_GRACE = 5.0  # seconds a connection whose backlog overflowed has to take its close code
CLOSE_TIMEOUT = 1.0  # seconds for the close frame to go out


class CloseCode:
    """Close codes; docs/live-streams.md says which ones a client should reconnect after."""

    GOING_AWAY = 1001  # server restarting: reconnect and resume
    NO_PONG = 4000  # nothing heard after a ping: reconnect and resume
    BAD_FIRST_MESSAGE = 4400  # do not reconnect as is
    UNAUTHORIZED = 4401  # bad or expired token: get a fresh one, then reconnect
    AUTH_TIMEOUT = 4408  # no auth within 10 s
    SLOW = 4429  # fell behind: reconnect and resume


class Auth(msgspec.Struct, tag="auth", tag_field="type", forbid_unknown_fields=True):
    token: str
    epoch: str | None = None  # resume the per-track route's track
    after: int | None = None
    # Several server messages per WebSocket message, one JSON document a line: far less work per event
    # for both ends when events come fast. Asked for in the first auth; later ones do not change it.
    batch: bool = False


class Subscribe(msgspec.Struct, tag="subscribe", tag_field="type", rename="camel", forbid_unknown_fields=True):
    """A track's stream events (``trackId``, resuming after ``epoch`` + ``after``) or the organization's
    alerts (``channel: "alerts"``)."""

    track_id: uuid.UUID | None = None
    channel: Literal["alerts"] | None = None
    epoch: str | None = None
    after: int | None = None


class Unsubscribe(msgspec.Struct, tag="unsubscribe", tag_field="type", rename="camel", forbid_unknown_fields=True):
    track_id: uuid.UUID | None = None
    channel: Literal["alerts"] | None = None


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class Pong(msgspec.Struct, tag="pong", tag_field="type"):
    pass


_decoder = msgspec.json.Decoder(Auth | Subscribe | Unsubscribe | Ping | Pong)


class _Closing(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def origin_allowed(ctx: ApiContext, origin: str | None) -> bool:
    """Browsers send Origin; others may not, and cannot be tricked into using someone's token."""
    if origin is None:
        return True
    allowed = ctx.settings.server.origins()
    own = "/".join(ctx.public_url.split("/")[:3])
    return "*" in allowed or origin.rstrip("/") in (*allowed, own)


class _Connection:
    __slots__ = ("batch", "close", "context", "cookie_session", "ctx", "expires_at", "heard", "hub", "nursery",
                 "open_queues", "organization_id", "pending", "queue")  # one per connection: thousands of them

    def __init__(self, ctx: ApiContext, hub: LiveFeed, open_queues: set[FrameQueue]) -> None:
        self.ctx, self.hub, self.open_queues = ctx, hub, open_queues
        self.queue = FrameQueue(ctx.settings.live.backlog, STUCK_GRACE)
        self.organization_id: uuid.UUID | None = None
        self.pending: list[uuid.UUID] = []  # tracks whose subscribe (and replay) is under way; a set takes 216 bytes
        self.batch = False
        self.expires_at = 0.0
        self.heard = trio.current_time()
        self.close: tuple[int, str] = (1000, "")
        self.cookie_session: SessionCheck | None = None  # signed in by the console's cookie, not a token
        self.nursery: trio.Nursery | None = None  # the writer's and the subscribes' tasks, while the connection is open
        self.context = contextvars.copy_context()  # this connection's, where ``websocket`` is this connection's

    async def run(self, track_id: uuid.UUID | None, cookie_session: SessionCheck | None = None) -> Response | None:
        """The connection, from the handshake to the close frame. One coroutine with the route's own (no
        helper awaited in between), for each frame held open costs memory with thousands of connections."""
        # A cookie connection's origin was checked already, and more strictly: our own pages only.
        if cookie_session is None and not origin_allowed(self.ctx, websocket.headers.get("Origin")):
            return Response("this Origin may not open live streams (server.cors_origins)", status=403)
        await websocket.accept()
        LIVE_CONNECTIONS.inc()
        try:
            first = await self._sign_in(track_id, cookie_session)
            if (raw := raw_frames(websocket.scope)) is not None:
                raw.batch = self.batch
                self.queue.write_now = raw.write_now
            self.open_queues.add(self.queue)
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                self.queue.start_writers_with(self._start_writer)
                try:
                    if first is not None:
                        await self._subscribe(first)
                        del first
                    await self._read(nursery)
                finally:  # a nursery whose body is done soon takes no new task: what comes now is not sent
                    self.queue.start_writers_with(None)
        except _Closing as closing:
            self.close = (closing.code, closing.reason)
        finally:
            self.open_queues.discard(self.queue)
            self.hub.detach(self.queue)
            LIVE_CONNECTIONS.dec()
        if self.close[0] == CloseCode.SLOW:
            LIVE_SLOW_CLOSES.inc()
        with trio.move_on_after(CLOSE_TIMEOUT):  # a client that reads nothing never takes the close frame
            await websocket.close(*self.close)
        return None

    def _start_writer(self) -> None:
        """Start the writer, from whichever task queued a frame (the hub's, often), in this connection's context."""
        assert self.nursery is not None
        self.context.run(self.nursery.start_soon, self._guard, self._write, self.nursery)

    async def _sign_in(self, track_id: uuid.UUID | None, cookie_session: SessionCheck | None) -> Subscribe | None:
        """Authenticate (the first ``auth``, or the console's cookie); the per-track route's subscribe, if any.
        What the first auth held (its token) is dropped once it is checked."""
        if cookie_session is not None:
            self._take_cookie_session(cookie_session)
            return None
        auth = await self._first_auth(track_id)
        self.batch = auth.batch
        await self._authenticate(auth.token)
        return None if track_id is None else Subscribe(track_id=track_id, epoch=auth.epoch, after=auth.after)

    async def _guard(self, task: object, nursery: trio.Nursery) -> None:
        try:
            await task()  # type: ignore[operator]
        except _Closing as closing:
            self.close = (closing.code, closing.reason)
            nursery.cancel_scope.cancel()

    async def _first_auth(self, track_id: uuid.UUID | None) -> Auth:
        token = websocket.args.get("token")
        if track_id is not None and token:  # the reference's per-track route: the token in the query
            after = websocket.args.get("after")
            return Auth(token=token, epoch=websocket.args.get("epoch"),
                        after=int(after) if after and after.isdigit() else None,
                        batch=websocket.args.get("batch") in ("1", "true"))
        with trio.move_on_after(AUTH_TIMEOUT):
            raw = await websocket.receive()
            try:
                message = _decoder.decode(raw)
            except msgspec.DecodeError as exc:
                raise _Closing(CloseCode.BAD_FIRST_MESSAGE, f"the first message must be auth: {exc}") from None
            if not isinstance(message, Auth):
                raise _Closing(CloseCode.BAD_FIRST_MESSAGE, 'the first message must be {"type":"auth","token":…}')
            return message
        raise _Closing(CloseCode.AUTH_TIMEOUT, f"no auth message within {AUTH_TIMEOUT:g} s")

    async def _authenticate(self, token: str) -> None:
        """Take ``token`` (the first auth, or a refresh). A bad first token closes the connection; a bad
        refresh is an error frame while the current token lasts (its expiry still closes it)."""
        try:
            claims = self.ctx.tokens.verify(token)
        except ApiError as err:
            return self._refused(err.message)
        session = await check_session(self.ctx.db(), claims.sid, claims.sub)
        if session is None or not session.live:
            return self._refused("the session has ended; log in again")
        if self.organization_id not in (None, session.organization_id):
            return self._refused("a connection stays with one organization")
        self.organization_id = session.organization_id
        self.expires_at = float(claims.exp)
        expires = datetime.fromtimestamp(self.expires_at, UTC)
        interval = self.ctx.settings.live.ping_interval
        self.queue.reply(frame("authenticated", {"expiresAt": expires, "pingInterval": interval,
                                                   "pongTimeout": interval + SILENCE_GRACE}))

    def _take_cookie_session(self, session: SessionCheck) -> None:
        self.cookie_session = session
        self.organization_id = session.organization_id
        interval = self.ctx.settings.live.ping_interval
        self.queue.reply(frame("authenticated", {"expiresAt": None, "pingInterval": interval,
                                                   "pongTimeout": interval + SILENCE_GRACE}))

    def _refused(self, why: str) -> None:
        if self.organization_id is None:
            raise _Closing(CloseCode.UNAUTHORIZED, why)
        self.queue.reply(error_frame("UNAUTHORIZED", f"{why}; the current token still holds until it expires"))

    async def _read(self, nursery: trio.Nursery) -> None:
        """Read commands until the connection closes, and between them watch it: every ``ping_interval`` a
        ping (``_ping``); 4401 once the access token expired without a fresh ``auth``. Watching here, not in
        a task of its own, spares each connection a task while it waits for its client."""
        interval = self.ctx.settings.live.ping_interval
        next_ping = trio.current_time() + interval
        try:
            while True:
                raw: str | bytes | None = None
                with trio.move_on_at(min(next_ping, self._expiry())):  # a message waiting is not lost
                    raw = await websocket.receive()
                if raw is not None:
                    await self._command(raw, nursery)
                    continue
                if self.cookie_session is None and self.ctx.now() >= self.expires_at:
                    raise _Closing(CloseCode.UNAUTHORIZED, "the access token expired: send a fresh one with auth")
                if (now := trio.current_time()) >= next_ping:
                    next_ping = now + interval
                    await self._ping(interval)
        except _Closing as closing:
            self.close = (closing.code, closing.reason)
            nursery.cancel_scope.cancel()

    async def _command(self, raw: str | bytes, nursery: trio.Nursery) -> None:
        self.heard = trio.current_time()
        try:
            message = _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            self.queue.reply(error_frame("BAD_MESSAGE", str(exc)))
            return
        if isinstance(message, Auth) and self.cookie_session is not None:
            self.queue.reply(error_frame("BAD_MESSAGE", "this connection is signed in by the console's cookie"))
        elif isinstance(message, Auth):
            await self._authenticate(message.token)
        elif isinstance(message, Subscribe):
            # In its own task: a long resume must not stop us reading pongs and fresh tokens.
            nursery.start_soon(self._guard, functools.partial(self._subscribe, message), nursery)
        elif isinstance(message, Unsubscribe):
            self._unsubscribe(message)
        elif isinstance(message, Ping):
            self.queue.reply(frame("pong"))

    async def _subscribe(self, message: Subscribe) -> None:
        if (message.track_id is None) == (message.channel is None):
            self.queue.reply(error_frame("BAD_MESSAGE", 'subscribe takes a trackId or "channel": "alerts"'))
            return
        assert self.organization_id is not None
        if message.channel == "alerts":
            if self.hub.subscribe_alerts(self.queue, self.organization_id):
                self.queue.reply(frame("subscribed", {"channel": "alerts"}))
            else:
                self.queue.reply(error_frame("ALREADY_SUBSCRIBED", "this connection already gets alerts"))
            return
        track_id = message.track_id
        assert track_id is not None
        if track_id in self.pending or self.hub.subscribed(self.queue, track_id):
            self.queue.reply(error_frame("ALREADY_SUBSCRIBED", "unsubscribe first to resume from another seq",
                                         track_id))
            return
        if self.hub.subscriptions(self.queue) + len(self.pending) >= MAX_SUBSCRIPTIONS:
            self.queue.reply(error_frame("TOO_MANY_SUBSCRIPTIONS", f"at most {MAX_SUBSCRIPTIONS} tracks per connection",
                                     track_id))
            return
        self.pending.append(track_id)
        try:
            reply = await self.hub.subscribe(self.queue, self.organization_id, track_id, epoch=message.epoch,
                                             after=message.after)
        finally:
            self.pending.remove(track_id)
        if reply is None:
            self.queue.reply(error_frame("NOT_FOUND", "no such track in this organization", track_id))

    def _unsubscribe(self, message: Unsubscribe) -> None:
        if message.channel == "alerts" and message.track_id is None:
            if self.hub.unsubscribe_alerts(self.queue):
                self.queue.reply(frame("unsubscribed", {"channel": "alerts"}))
            else:
                self.queue.reply(error_frame("NOT_SUBSCRIBED", "this connection does not get alerts"))
        elif message.track_id is not None and message.channel is None:
            if self.hub.unsubscribe(self.queue, message.track_id):
                self.queue.reply(frame("unsubscribed", {"trackId": message.track_id}))
            else:
                self.queue.reply(error_frame("NOT_SUBSCRIBED", "not subscribed to this track", message.track_id))
        else:
            self.queue.reply(error_frame("BAD_MESSAGE", 'unsubscribe takes a trackId or "channel": "alerts"'))

    async def _write(self) -> None:
        """Send what the queue holds until it holds nothing (the queue starts us again when it does), several
        frames a write; 4429 once the backlog overflowed or a write outlived ``STUCK_GRACE`` after it (a
        client that stopped reading leaves us on a full socket, where we would never see the overflow), and
        the graceful stop's code once the queue is closed."""
        raw = raw_frames(websocket.scope)
        while (frames := self.queue.take()) is not None:
            with self.queue.write_scope() as scope:
                if raw is not None:  # everything queued in one write: a slow client's backlog coalesces
                    if data := self.queue.rest() + (raw.encode(frames) if frames else b""):
                        await raw.write(data)
                elif self.batch and frames:
                    await websocket.send("\n".join(frames))
                elif not self.batch:
                    for frame in frames:
                        await websocket.send(frame)
            LIVE_FRAMES_SENT.inc(len(frames))
            if self.queue.overflowed or scope.cancelled_caught:
                raise _Closing(CloseCode.SLOW, "too slow: reconnect and resume from your last seq")
            if self.queue.closed:
                raise _Closing(*self.queue.closed)

    def _expiry(self) -> float:
        """The trio time at which the access token expires (a cookie connection's session has none)."""
        if self.cookie_session is not None:
            return math.inf
        return trio.current_time() + max(0.0, self.expires_at - self.ctx.now())

    async def _ping(self, interval: float) -> None:
        """Close a connection heard nothing from for too long, or a cookie connection whose session row
        ended (while the database is unavailable it stays: its session was live a moment ago); else ping."""
        if trio.current_time() - self.heard > interval + SILENCE_GRACE:
            raise _Closing(CloseCode.NO_PONG, "no pong: reconnect and resume")
        if (session := self.cookie_session) is not None:
            try:
                current = await check_session(self.ctx.db(), session.session_id, session.user_id)
            except StoreUnavailable:
                current = session
            if current is None or not current.live or current.organization_id != session.organization_id:
                raise _Closing(CloseCode.UNAUTHORIZED, "the session has ended: sign in again")
        self.queue.reply(frame("ping"))


def live_blueprint(ctx: ApiContext, hub: LiveFeed) -> Blueprint:
    """The live stream routes, fed by ``hub``; registered on an app, they close their connections with
    ``GOING_AWAY`` the moment its graceful stop begins (``ON_SHUTDOWN``)."""
    blueprint = Blueprint("live", __name__)
    open_queues: set[FrameQueue] = set()

    def going_away() -> None:
        for queue in list(open_queues):
            queue.close(CloseCode.GOING_AWAY, "server restarting: reconnect and resume")

    blueprint.record_once(lambda state: state.app.extensions.setdefault(ON_SHUTDOWN, []).append(going_away))

    def serve(track_id: uuid.UUID | None, cookie_session: SessionCheck | None = None) -> Awaitable[Response | None]:
        return _Connection(ctx, hub, open_queues).run(track_id, cookie_session)  # the route awaits it: no frame here

    @blueprint.websocket("/v1/streaming/ws")
    async def streaming_ws() -> Response | None:
        return await serve(None)

    @blueprint.websocket("/v1/streaming/ws/<uuid:track_id>")
    async def streaming_ws_track(track_id: uuid.UUID) -> Response | None:
        return await serve(track_id)

    @blueprint.websocket("/app/live")
    async def console_live() -> Response | None:
        session = await live_session(ctx)
        if session is None:
            return Response("sign in to the console first, from one of its pages", status=401)
        return await serve(None, session)

    return blueprint
