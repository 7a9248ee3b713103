"""Live frames written as WebSocket bytes (``http_api.live.wire``): a frame encoded once reads as the same
message to a client, and under hypercorn (``serve_http``) a connection without extensions finds hypercorn's
socket, so the fan-out's shortcut is in use; one that offered an extension (browsers offer
permessage-deflate), or a server that is not hypercorn, does not. Real hypercorn on 127.0.0.1:0, a
trio-websocket client.
"""

from __future__ import annotations

import functools
import json
import uuid

import trio
from quart import websocket
from quart_trio import QuartTrio
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import TextMessage

from http_api.live.frames import FrameQueue
from http_api.live.wire import raw_frames, text_frame, with_raw_frames
from http_api.server import serve_http
from tests.helpers.live_ws import open_ws

TRACK = uuid.uuid4()


def _app() -> QuartTrio:
    """Reports what its connection found, then publishes a page and its counts through a FrameQueue with no
    writer running, as the hub does."""
    app = QuartTrio(__name__)
    app.asgi_app = with_raw_frames(app.asgi_app)  # type: ignore[method-assign,assignment]

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raw = raw_frames(websocket.scope)
        await websocket.send(json.dumps({"raw": raw is not None, "socket": raw is not None and raw.server is not None}))
        queue = FrameQueue(backlog=10)
        queue.write_now = None if raw is None else raw.write_now

        async def write() -> None:  # the connection's writer (http_api.live.ws), in short
            while (frames := queue.take()) is not None:
                if raw is None:
                    for frame in frames:
                        await websocket.send(frame)
                elif data := queue.rest() + (raw.encode(frames) if frames else b""):
                    await raw.write(data)

        async with trio.open_nursery() as nursery:
            queue.start_writers_with(functools.partial(nursery.start_soon, write))
            queue.publish(['{"event":"stream","seq":1}'], TRACK, '{"event":"counts","seq":1}')
            await websocket.receive()  # until the client closes
            nursery.cancel_scope.cancel()

    return app


def test_a_frame_encoded_once_reads_as_the_message_it_holds() -> None:
    for text in ("{}", "é" * 200, "x" * 70_000):
        client = Connection(ConnectionType.CLIENT)
        client.receive_data(text_frame(text))
        [event] = list(client.events())
        assert isinstance(event, TextMessage) and event.data == text and event.message_finished


async def _messages(url: str, headers: list[tuple[str, str]] | None = None) -> list[object]:
    async with open_ws(url, extra_headers=headers, message_queue_size=8) as ws:
        return [json.loads(await ws.get_message()) for _ in range(3)]


async def test_under_hypercorn_a_connection_writes_its_frames_to_the_socket(nursery: trio.Nursery) -> None:
    urls = await nursery.start(functools.partial(serve_http, _app(), graceful_timeout=1.0), "127.0.0.1:0",
                               trio.sleep_forever)
    url = urls[0].replace("http://", "ws://") + "/ws"
    with trio.fail_after(10):
        assert await _messages(url) == [{"raw": True, "socket": True}, {"event": "stream", "seq": 1},
                                        {"event": "counts", "seq": 1}]
        # Any extension offered, even one hypercorn declines (this client could not take deflate's answer).
        offered = [("Sec-WebSocket-Extensions", "x-songtrack-unknown")]
        assert (await _messages(url, offered))[0] == {"raw": False, "socket": False}
    nursery.cancel_scope.cancel()


async def test_without_hypercorn_frames_go_through_websocket_send() -> None:
    async with _app().test_app() as test_app, test_app.test_client().websocket("/ws") as ws:
        assert json.loads(await ws.receive()) == {"raw": False, "socket": False}
        assert json.loads(await ws.receive()) == {"event": "stream", "seq": 1}
