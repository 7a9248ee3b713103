"""`songtrack run` end to end, as a user runs it: a real child process, the
embedded PostgreSQL in a fresh data directory, real HTTP, real signals.

Rules: real clock (the child process cannot follow MockClock), every wait has a
deadline, and the child is killed if a test fails half-way.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
import trio

from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.signup import connect, register


def _run(data_dir: Path, port: int, *extra: str) -> SongtrackProcess:
    args = ["run", "--data-dir", str(data_dir), "--port", str(port), *extra]
    # Few simulated listens: the sandbox backfills today's from the simulated midnight UTC, up to 2,880 at
    # the defaults.
    env = {**os.environ, "SONGTRACK_SIMULATORS_STREAM_RATE": "0.05"}
    return SongtrackProcess(args, data_dir.parent / "songtrack.log", env)


async def _started(data_dir: Path, processes: list[SongtrackProcess], port: int,
                   *extra: str) -> tuple[SongtrackProcess, httpx.Response]:
    """``songtrack run`` on ``port``, once ready; its first 200 from /health/ready."""
    proc = _run(data_dir, port, *extra)
    processes.append(proc)
    await proc.start()
    return proc, await proc.wait_ready(f"http://127.0.0.1:{port}")


async def test_run_serves_ready_and_stops_cleanly_then_reuses_its_data(
    data_dir: Path, processes: list[SongtrackProcess]
) -> None:
    port = free_port()
    first, ready = await _started(data_dir, processes, port)
    assert ready.json()["checks"] == {"database": {"status": "ok"}, "migrations": {"status": "ok"}}
    keys = {p.name: p.read_bytes() for p in (data_dir / "keys").iterdir()}
    assert await first.stop(signal.SIGTERM) == 0
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "embedded PostgreSQL left running"
    pg_version_mtime = (data_dir / "postgres" / "PG_VERSION").stat().st_mtime

    second, _ = await _started(data_dir, processes, port)
    assert await second.stop(signal.SIGINT) == 0
    assert (data_dir / "postgres" / "PG_VERSION").stat().st_mtime == pg_version_mtime
    assert {p.name: p.read_bytes() for p in (data_dir / "keys").iterdir()} == keys
    assert "reused" in second.output


# Alone, the process holds every singleton (in sandbox mode, the demo label's listens among them).
SHARED_ACTORS = ("status-publisher", "webhook-dispatcher", "rules", "aggregator", "accounts", "singletons",
                 "housekeeper", "aggregator-sweep", "rule-schedule", "stream-counter", "daily-reporter",
                 "sandbox-streams")


async def test_engine_status_lists_the_running_engine(
    data_dir: Path, processes: list[SongtrackProcess]
) -> None:
    port = free_port()
    proc, _ = await _started(data_dir, processes, port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        headers = await register(client)
        # Ready means the API can serve; the engine's actors may still be starting for a moment.
        with trio.move_on_after(15):
            while True:
                status = (await client.get("/v1/engine/status", headers=headers)).json()
                states = {a["name"]: a["state"] for a in status["actors"]}
                if set(states.values()) == {"running"} and len(states) >= len(SHARED_ACTORS):
                    break
                await trio.sleep(0.2)
        missing = await client.get("/v1/no-such-route")
    assert [n["pid"] for n in status["nodes"]] == [proc.process.pid]  # type: ignore[union-attr]
    # The shared actors; the demo label's Meta account actor runs as well, but it is not our organization's.
    assert states == dict.fromkeys(SHARED_ACTORS, "running")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert await proc.stop() == 0


async def test_without_credentials_the_sandbox_simulators_stand_in(
    data_dir: Path, processes: list[SongtrackProcess]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, _ = await _started(data_dir, processes, port)
    assert "Sandbox mode: no credentials for meta or spotify" in proc.output
    async with httpx.AsyncClient(base_url=base) as client:
        headers = await register(client)
        for provider in ("spotify", "meta"):
            assert (await connect(client, headers, provider))["status"] == "connected"
        listed = (await client.get("/v1/integrations", headers=headers)).json()["integrations"]
    assert sorted(i["provider"] for i in listed) == ["meta", "spotify"]
    assert await proc.stop() == 0


async def test_workers_share_the_port_and_stop_with_the_parent(
    data_dir: Path, processes: list[SongtrackProcess]
) -> None:
    port = free_port()
    proc, _ = await _started(data_dir, processes, port, "--workers", "2")
    # Two processes serve the inherited socket; the second may still be importing when the first answers.
    await proc.wait_for_output("serving fd://", count=2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        headers = await register(client)
        # The workers reach the simulators the parent serves, whichever worker answers each hop.
        assert (await connect(client, headers, "spotify"))["status"] == "connected"
    assert await proc.stop() == 0
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/health/live")
