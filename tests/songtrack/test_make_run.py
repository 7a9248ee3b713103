"""``make run`` stopped the way a process manager stops it: SIGTERM to its whole process group. make forwards
the signal to its child, so songtrack gets it twice within a millisecond; it must drain once, as for Ctrl-C,
not take the copy for a second "stop now".

With ``--workers 2`` the workers get the group's SIGTERM too: they drain and stay stopped.

Rules: the README's own command in a session of its own (so the group is make and what it started), the
real clock, every wait bounded, the group killed if the test fails half-way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.helpers.process import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture(params=[[], ["--workers", "2"]], ids=["one-process", "two-workers"])
async def make_run(data_dir: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[trio.Process, Path, int]]:
    port, log = free_port(), data_dir.parent / "make-run.log"
    extra = " ".join(request.param)
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "MAKEFLAGS"}}
    env["SONGTRACK_SIMULATORS_STREAM_RATE"] = "0.05"  # few simulated listens to backfill at start
    with log.open("ab") as out:
        process = await trio.lowlevel.open_process(
            ["make", "-s", "-C", str(ROOT), "run", f"ARGS=--data-dir {data_dir} --port {port} {extra}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        yield process, log, port
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def _ready(process: trio.Process, log: Path, port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        with trio.move_on_after(90):
            while process.returncode is None:
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.2)
    raise AssertionError(f"make run not ready; output:\n{await trio.Path(log).read_text(errors='replace')}")


async def test_sigterm_to_make_runs_process_group_drains_once(
    make_run: tuple[trio.Process, Path, int], data_dir: Path
) -> None:
    process, log, port = make_run
    await _ready(process, log, port)
    os.killpg(process.pid, signal.SIGTERM)
    with trio.fail_after(60):
        await process.wait()
    output = await trio.Path(log).read_text(errors="replace")
    assert "received SIGTERM: draining" in output, output
    assert "stopping now" not in output, output
    assert "restarting" not in output, output  # API workers that got the group's signal stop for good
    assert "stopped (SIGTERM)" in output, output  # songtrack's own clean exit, after the drain
    assert "Traceback" not in output, output
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "embedded PostgreSQL left running"
