"""HTTP edges on the real server (hypercorn in a thread, real sockets, a real database): a kept-alive
connection goes on after an answer sent before the body was read, and bodies that are no JSON a parser
can take (nested too deep, not UTF-8) are a 400 naming the problem.

Raw sockets where the bytes on the wire matter; every read has a timeout so a hang fails, never blocks.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from config import load
from tests.helpers.live_api import LiveApi, serve_in_thread


@pytest.fixture
def live_api(property_dsn: str, tmp_path: Path) -> Iterator[LiveApi]:
    with serve_in_thread(property_dsn, load({}), tmp_path) as live:
        yield live


@contextmanager
def _connection_to(live: LiveApi) -> Iterator[tuple[socket.socket, BinaryIO]]:
    host, port = live.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock, sock.makefile("rb") as reader:
        yield sock, reader


def _exchange(live: LiveApi, *requests: bytes) -> list[bytes]:
    """Send each request on one connection and read its answer's head; b"" once the server has closed."""
    heads = []
    with _connection_to(live) as (sock, reader):
        for raw in requests:
            with suppress(OSError):
                sock.sendall(raw)
            heads.append(_read_response(reader))
    return heads


def _read_response(reader: BinaryIO) -> bytes:
    """The head of the next response (its body read and dropped), or b"" when the connection is closed."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        if not line:
            return b""
        head += line
    lengths = [line.split(b":")[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    reader.read(int(lengths[0]) if lengths else 0)
    return head


def _post(path: str, body: bytes, *, headers: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n").encode() + body


GET_HEALTH = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"


def _connection(response: httpx.Response) -> object:
    """The local address of the connection a response came on (one per connection)."""
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_a_401_sent_before_the_body_was_read_keeps_the_connection(live_api: LiveApi) -> None:
    request = _post("/v1/campaigns", b'{"name": "' + b"x" * 200_000 + b'"}')
    with _connection_to(live_api) as (sock, reader):
        sock.sendall(request[:100_000])
        time.sleep(0.5)  # time for the app to answer without the rest of the body
        sock.sendall(request[100_000:])
        first = _read_response(reader)
        sock.sendall(GET_HEALTH)
        second = _read_response(reader)
    assert first.startswith(b"HTTP/1.1 401") and b"connection: close" not in first.lower()
    assert second.startswith(b"HTTP/1.1 200")


def test_httpx_reuses_its_connection_after_a_401(live_api: LiveApi) -> None:
    with httpx.Client(base_url=live_api.base_url, timeout=5) as client:
        refused = client.post("/v1/campaigns", content=b"{" + b" " * 500_000 + b"}",
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 401
        answered = client.get("/health/live")
        assert answered.status_code == 200 and _connection(answered) == _connection(refused)


def test_after_a_413_the_next_request_is_answered(live_api: LiveApi) -> None:
    # On the same connection when the body was all there by the answer, else on a new one (Connection: close).
    auth = {"Authorization": f"Bearer {live_api.token}"}
    with httpx.Client(base_url=live_api.base_url, timeout=5, headers=auth) as client:
        refused = client.post("/v1/campaigns", content=b"[" + b"0," * 1_000_000 + b"0]",
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert client.get("/v1/campaigns").status_code == 200


def test_an_upload_over_50_mb_is_refused_at_once_and_the_connection_closed(live_api: LiveApi) -> None:
    # Only the head and a little of the body are sent: the answer must not wait for 50 MB that never come.
    head = (f"POST /v1/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live_api.token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\n\r\n").encode()
    first, second = _exchange(live_api, head + b"--b\r\n" + b"x" * 10_000, GET_HEALTH)
    assert first.startswith(b"HTTP/1.1 413") and b"connection: close" in first.lower()
    assert second == b""  # closed: the client opens a new connection, as the answer said



@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_nesting(live_api: LiveApi, depth: int) -> None:
    auth = {"Authorization": f"Bearer {live_api.token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=live_api.base_url, timeout=30, headers=auth) as client:
        for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
            for path in ("/v1/auth/login", "/v1/campaigns", "/v1/webhooks"):
                response = client.post(path, content=body)
                assert response.status_code == 400, (path, response.text)
                assert "nested deeper than 64 levels" in response.json()["error"]["message"]


@pytest.mark.parametrize("body", [b'{"email": "\xff\xfe@label.example", "password": "x"}',
                                  b'{"email\xc3": "x"}', b'{"email": "a\xed\xa0\x80@b.c", "password": "x"}'])
def test_a_body_that_is_not_utf8_is_a_400_saying_so(live_api: LiveApi, body: bytes) -> None:
    response = httpx.post(f"{live_api.base_url}/v1/auth/login", content=body,
                          headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("the body is not UTF-8 (byte ")
