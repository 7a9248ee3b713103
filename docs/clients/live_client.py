"""A SongTrackPro live stream client: watches tracks over ``/v1/streaming/ws`` and never misses an event.

It prints one JSON line per stream event on stdout and a short line per counts snapshot (and anything
worth knowing: reconnects, resumes that could not be honoured) on stderr. docs/live-streams.md
describes the protocol it speaks.

    pip install "websockets>=13" httpx
    python live_client.py --api http://127.0.0.1:3000 --email you@example.com --password … \\
        --track 0b9f…  --track 5c21…

With ``--token`` instead of a login it cannot refresh: it stops when the token expires.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

# Close codes (docs/live-streams.md). Any other close, or a lost connection, means "reconnect and resume".
BAD_FIRST_MESSAGE = 4400  # our bug: reconnecting would not help
UNAUTHORIZED = 4401  # bad or expired token: get a fresh one first

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 20.0  # seconds between reconnection attempts, doubling


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stop(Exception):
    """Reconnecting cannot help; the message says what to fix."""


class Credentials:
    """The access token, kept fresh: refreshed (POST /v1/auth/refresh) at 3/4 of its lifetime, or logged
    in again when the refresh token is refused. With a bare ``--token`` there is nothing to refresh with."""

    def __init__(self, http: httpx.AsyncClient, email: str | None, password: str | None,
                 token: str | None) -> None:
        self.http, self.email, self.password = http, email, password
        self.access_token = token or ""
        self.refresh_token: str | None = None
        self.expires_in: float | None = None  # seconds, from the last login or refresh
        self.changed = asyncio.Event()  # set when a new access token is available
        self._renewing = asyncio.Lock()

    @property
    def renewable(self) -> bool:
        return self.refresh_token is not None or self.password is not None

    async def login(self) -> None:
        response = await self.http.post("/v1/auth/login", json={"email": self.email, "password": self.password})
        if response.status_code != 200:
            raise Stop(f"login refused ({response.status_code}): {response.text}")
        self._take(response.json()["tokens"])

    async def renew(self) -> None:
        """A fresh access token: refresh, or log in again if the refresh token no longer works.

        One at a time: a refresh token works once, and presenting it twice ends the whole session."""
        stale = self.access_token
        async with self._renewing:
            if self.access_token != stale:
                return  # renewed while we waited
            await self._renew()

    async def _renew(self) -> None:
        if self.refresh_token is not None:
            response = await self.http.post("/v1/auth/refresh", json={"refreshToken": self.refresh_token})
            if response.status_code == 200:
                self._take(response.json()["tokens"])
                return
            log(f"refresh refused ({response.status_code}); logging in again")
            self.refresh_token = None
        if self.password is None:
            raise Stop("the access token expired or was refused (4401), and without --email/--password "
                       "we cannot get a new one")
        await self.login()

    async def keep_fresh(self) -> None:
        """Runs for ever: renews the token before it expires; a failed attempt is retried in 5 s."""
        while True:
            if self.expires_in is None:
                return  # a bare --token: the server closes with 4401 when it expires
            await asyncio.sleep(self.expires_in * 0.75)
            try:
                await self.renew()
            except httpx.HTTPError as exc:  # the API is unreachable for now: the token still has 1/4 to go
                log(f"could not refresh the access token ({exc!r}); retrying in 5 s")
                self.expires_in = 5 / 0.75

    def _take(self, tokens: dict[str, Any]) -> None:
        self.access_token, self.refresh_token = tokens["accessToken"], tokens["refreshToken"]
        self.expires_in = float(tokens["expiresIn"])
        self.changed.set()
        log(f"new access token, valid for {self.expires_in:g} s")


@dataclass
class Track:
    """Where we are in one track's stream: resume from here after a reconnect."""

    id: str
    epoch: str | None = None
    seq: int | None = None


class LiveClient:
    def __init__(self, api: str, credentials: Credentials, track_ids: list[str]) -> None:
        self.url = api.rstrip("/").replace("http", "ws", 1) + "/v1/streaming/ws"
        self.credentials = credentials
        self.tracks = {track_id: Track(track_id) for track_id in track_ids}
        self.silence_limit = 35.0  # replaced by what the server announces in `authenticated`
        self.ws: ClientConnection | None = None  # the open, authenticated connection, if any
        self.ws_was_authenticated = False  # did the last connection get as far as `authenticated`?
        self.sent_token = ""  # the access token the connection last sent

    async def run(self) -> None:
        """Connects, and reconnects with exponential backoff and jitter, until a Stop."""
        backoff, previous = BACKOFF_FIRST, None
        while True:
            code, reason = await self._connect_once()
            if self.ws_was_authenticated:
                backoff = BACKOFF_FIRST  # it worked for a while: the next failure starts over
            if code == BAD_FIRST_MESSAGE:
                raise Stop(f"the server refused our first message (4400 {reason}): fix the client")
            if code == UNAUTHORIZED:
                log(f"closed 4401 ({reason}): renewing the access token")
                try:
                    await self.credentials.renew()  # Stop when it cannot be renewed
                    if previous != UNAUTHORIZED:  # a fresh token fixes it: come back soon (but never loop)
                        backoff = BACKOFF_FIRST
                except httpx.HTTPError as exc:
                    log(f"could not renew the access token ({exc!r}); trying again after the next wait")
            previous = code
            wait = random.uniform(backoff / 2, backoff)  # jitter: clients cut off together do not return together
            log(f"disconnected ({code or 'no close frame'}: {reason}); reconnecting in {wait:.1f} s")
            await asyncio.sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _connect_once(self) -> tuple[int | None, str]:
        """One connection, from the handshake to its end: the close code and reason (None: no close frame)."""
        self.ws_was_authenticated = False
        try:
            # ping_interval=None: liveness is the protocol's own ping/pong (as in a browser), not the
            # library's WebSocket pings; close_timeout is short because a dead link never answers a close.
            async with connect(self.url, ping_interval=None, close_timeout=2, open_timeout=10) as ws:
                await self._send_auth(ws)
                return await self._read(ws)
        except InvalidStatus as exc:
            if exc.response.status_code == 403:
                raise Stop("the server refused this Origin (403): add it to [server] cors_origins") from None
            return None, f"handshake refused: HTTP {exc.response.status_code}"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return None, f"could not connect: {exc!r}"
        finally:
            self.ws = None

    async def _read(self, ws: ClientConnection) -> tuple[int | None, str]:
        try:
            while True:
                try:
                    # No message at all (not even a ping) for this long: the link is dead, even if TCP
                    # has not noticed yet (a laptop lid, a NAT that forgot us).
                    raw = await asyncio.wait_for(ws.recv(), timeout=self.silence_limit)
                except TimeoutError:
                    return None, f"nothing heard for {self.silence_limit:g} s"
                # We ask for batches: each WebSocket message holds one or more messages, a line each.
                for line in str(raw).splitlines():
                    await self._handle(ws, json.loads(line))
        except ConnectionClosed as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "connection lost")

    async def _handle(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        event, data = message["event"], message.get("data") or {}
        if event == "ping":
            await ws.send('{"type":"pong"}')
        elif event == "authenticated":
            # Silence longer than a ping interval and 10 s (or two intervals, if shorter) means a dead link.
            interval = float(data["pingInterval"])
            self.silence_limit = interval + min(10.0, interval)
            if self.ws is None:  # the first one on this connection, not the reply to a refresh
                self.ws, self.ws_was_authenticated = ws, True
                if self.sent_token != self.credentials.access_token:
                    await self._send_auth(ws)  # refreshed while we were connecting
                for track in self.tracks.values():
                    await ws.send(json.dumps(self._subscription(track)))
        elif event == "subscribed":
            self._subscribed(data)
        elif event == "stream":
            self._stream(message["seq"], data)
        elif event == "counts":
            top = ", ".join(f"{country} {n}" for country, n in list(data["countries"].items())[:5])
            log(f"counts {data['trackId']}: {data['streams']} streams in the last {data['window']} ({top})")
        elif event == "error":
            log(f"error {data['code']}: {data['message']} {data.get('trackId', '')}")
            if data["code"] == "NOT_FOUND":
                self.tracks.pop(data["trackId"], None)
                if not self.tracks:
                    raise Stop("none of the tracks exists in your organization")

    async def _send_auth(self, ws: ClientConnection) -> None:
        self.sent_token = self.credentials.access_token
        await ws.send(json.dumps({"type": "auth", "token": self.sent_token, "batch": True}))

    @staticmethod
    def _subscription(track: Track) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "subscribe", "trackId": track.id}
        if track.epoch is not None:  # resume: everything after the last seq we printed
            message.update(epoch=track.epoch, after=track.seq)
        return message

    def _subscribed(self, data: dict[str, Any]) -> None:
        track = self.tracks.get(data["trackId"])
        if track is None:
            return
        if data["recovered"]:
            log(f"resumed {track.id} after seq {track.seq}")
            return
        if track.epoch is not None:
            # Too far behind (or the track's history was reset): the missed events are gone. A dashboard
            # must reset what it shows and rebuild from the counts snapshot that follows.
            log(f"could not resume {track.id} after seq {track.seq}: continuing from seq {data['seq']};"
                " the events in between are not replayed")
        else:
            log(f"subscribed to {track.id} at seq {data['seq']}")
        track.epoch, track.seq = data["epoch"], data["seq"]

    def _stream(self, seq: int, data: dict[str, Any]) -> None:
        track = self.tracks.get(data["trackId"])
        if track is None or (track.seq is not None and seq <= track.seq):
            return  # not ours any more, or already printed (the server does not resend; be safe anyway)
        if track.seq is not None and seq != track.seq + 1:
            log(f"gap in {track.id}: seq {track.seq} then {seq}")  # never expected: report it
        track.seq = seq
        print(json.dumps({"trackId": track.id, "seq": seq, "platform": data["platform"],
                          "country": data["country"], "timestamp": data["timestamp"]}), flush=True)

    async def reauth_on_refresh(self) -> None:
        """Sends each new access token on the open connection before the old one expires."""
        while True:
            await self.credentials.changed.wait()
            self.credentials.changed.clear()
            if self.ws is not None:
                with contextlib.suppress(ConnectionClosed):  # the reader sees it and reconnects
                    await self._send_auth(self.ws)


async def main(args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=args.api, timeout=10) as http:
        credentials = Credentials(http, args.email, args.password, args.token)
        if args.token is None:
            await credentials.login()
        client = LiveClient(args.api, credentials, args.track)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(credentials.keep_fresh())
            tasks.create_task(client.reauth_on_refresh())
            await client.run()  # a Stop ends it, and the TaskGroup cancels the others


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:3000", help="the API's base URL")
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--token", help="an access token instead of a login (no refresh)")
    parser.add_argument("--track", action="append", required=True, help="a track id; repeat for more")
    args = parser.parse_args(argv)
    if args.token is None and not (args.email and args.password):
        parser.error("give --email and --password, or --token")
    return args


if __name__ == "__main__":
    try:
        asyncio.run(main(parse()))
    except* Stop as stopped:
        log(f"stopped: {stopped.exceptions[0]}")
        sys.exit(1)
    except* KeyboardInterrupt:
        sys.exit(130)
