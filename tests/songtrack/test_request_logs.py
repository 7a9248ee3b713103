"""Request ids and the access log as a process writes them (``engine.logs.configure_logging``, JSON lines):
every request gets an id, answers with it, and each of its log lines and its error body carry it; every
request is one access line. Real time and a real port (hypercorn); no database: the routes that misbehave
are the test's own, added to the real app. The last test runs ``songtrack run --workers 2`` as a child
process and reads its output, as an operator does.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from quart import websocket

from config import load, load_or_create_keys
from http_api.context import ApiContext
from songtrack.api import Api, build_api
from tests.helpers.live_ws import open_ws
from tests.helpers.process import SongtrackProcess, free_port

log = logging.getLogger("tests.request_logs")


def _api(tmp_path: Path) -> Api:
    api = build_api(ApiContext(lambda: None, [], load({}), load_or_create_keys(tmp_path / "data")))

    async def crash() -> str:
        log.info("about to fail")
        raise RuntimeError("secret internals")

    async def start_job() -> str:
        async def job() -> None:
            log.info("the job ran")

        api.services.jobs.start("logging", job)
        return "started"

    async def socket() -> None:
        await websocket.accept()
        await websocket.send("hello")

    api.app.add_url_rule("/test/crash", "crash", crash)
    api.app.add_url_rule("/test/job", "job", start_job)
    api.app.add_websocket("/test/ws", "ws", socket)
    return api


@asynccontextmanager
async def served(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    stop = trio.Event()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(api.serve, "127.0.0.1:0", stop.wait)
            async with httpx.AsyncClient(base_url=urls[0], timeout=10) as client:
                yield client
            stop.set()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _access(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in _lines(stream) if line["logger"] == "songtrack.access"]


@pytest.mark.parametrize("sent", ["abc-123._:Z", "x" * 128])
async def test_a_sane_client_id_is_answered_and_logged(tmp_path: Path, log_stream: io.StringIO, sent: str) -> None:
    async with served(_api(tmp_path)) as client:
        response = await client.get("/health/live", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert [line["request_id"] for line in _access(log_stream)] == [sent]


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "two words", "<script>", "a\u00e9"])
async def test_a_missing_or_odd_client_id_is_replaced_with_a_new_one(
        tmp_path: Path, log_stream: io.StringIO, sent: str | None) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent.encode()}
    async with served(_api(tmp_path)) as client:
        first = (await client.get("/health/live", headers=headers)).headers["X-Request-ID"]
        second = (await client.get("/health/live", headers=headers)).headers["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0 and first != second  # a uuid4 each, never the client's
    assert [line["request_id"] for line in _access(log_stream)] == [first, second]


async def test_a_500_body_and_every_line_of_its_request_name_the_request(
        tmp_path: Path, log_stream: io.StringIO) -> None:
    async with served(_api(tmp_path)) as client:
        response = await client.get("/test/crash", headers={"X-Request-ID": "quote-me"})
        await client.get("/health/live")  # the next request on the same connection is another one
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "quote-me"
    assert response.json() == {"error": {"code": "SERVER_ERROR", "message": "internal server error", "details": [],
                                         "requestId": "quote-me"}}
    tagged = [line for line in _lines(log_stream) if line.get("request_id") == "quote-me"]
    assert [line["msg"] for line in tagged][:2] == ["about to fail", "unhandled error in request"]
    assert [line["logger"] for line in tagged][2:] == ["songtrack.access"]
    assert "secret internals" in tagged[1]["exc"] and "secret internals" not in response.text
    untagged = [line["msg"] for line in _lines(log_stream) if "request_id" not in line]
    assert untagged and not any("fail" in msg for msg in untagged)  # lines outside a request carry none


async def test_a_job_a_request_started_logs_with_that_request_id(tmp_path: Path, log_stream: io.StringIO) -> None:
    async with served(_api(tmp_path)) as client:
        await client.get("/test/job", headers={"X-Request-ID": "started-it"})
        await trio.sleep(0.2)
        await client.get("/health/live", headers={"X-Request-ID": "later"})
    ran = [line for line in _lines(log_stream) if line["msg"] == "the job ran"]
    assert [line["request_id"] for line in ran] == ["started-it"]


async def test_each_request_is_one_structured_access_line_without_its_query(
        tmp_path: Path, log_stream: io.StringIO) -> None:
    async with served(_api(tmp_path)) as client:
        await client.get("/health/live?token=secret-in-the-link", headers={"User-Agent": "probe/1"})
        await client.post("/v1/tracks", content=b"x" * 2000)  # no database here: a 503
        await client.get("/nowhere")
        url = str(client.base_url).replace("http://", "ws://")
        async with open_ws(f"{url}/test/ws", extra_headers=[("X-Request-ID", "ws-1")]) as ws:
            assert await ws.get_message() == "hello"
    await trio.sleep(0.1)
    lines = _access(log_stream)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/health/live", 200), ("POST", "/v1/tracks", 503), ("GET", "/nowhere", 404),
        ("GET", "/test/ws", 101)]
    assert len({line["request_id"] for line in lines}) == 4 and lines[-1]["request_id"] == "ws-1"
    first = lines[0]
    assert (first["client"], first["user_agent"]) == ("127.0.0.1", "probe/1")
    assert first["bytes"] > 0 and first["duration_ms"] >= 0
    served_lines = [line for line in _lines(log_stream) if line["logger"] != "httpx"]  # the test's client's own
    assert not any("secret-in-the-link" in json.dumps(line) for line in served_lines)
    assert not any(line["logger"] == "hypercorn.access" for line in served_lines)


async def test_with_two_workers_each_request_is_one_access_line_in_the_output(
        data_dir: Path, processes: list[SongtrackProcess]) -> None:
    port = free_port()
    env = {**os.environ, "SONGTRACK_LOG_FORMAT": "json", "SONGTRACK_SIMULATORS_STREAM_RATE": "0"}
    proc = SongtrackProcess(["run", "--data-dir", str(data_dir), "--port", str(port), "--workers", "2"],
                            data_dir.parent / "songtrack.log", env)
    processes.append(proc)
    await proc.start()
    await proc.wait_ready(f"http://127.0.0.1:{port}")
    sent = [f"probe-{index}" for index in range(6)]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for index, request_id in enumerate(sent):  # new connections, so both workers answer some
            path = ("/health/live", "/login", "/nowhere")[index % 3]
            await client.get(path, headers={"X-Request-ID": request_id, "Connection": "close"})
    assert await proc.stop(signal.SIGTERM) == 0
    lines = [json.loads(line) for line in proc.output.splitlines() if line.startswith("{")]
    access = [line["request_id"] for line in lines if line["logger"] == "songtrack.access"]
    assert sorted(request_id for request_id in access if request_id.startswith("probe-")) == sent
    assert not any(line["logger"] == "hypercorn.access" for line in lines)
