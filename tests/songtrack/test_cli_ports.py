"""A port someone else holds: every command that listens says so in one line naming the port and exits 1.

Real processes and a real socket holding the port; stderr is read apart from stdout, since the line is
what a person sees in their terminal (besides log records, which are JSON lines there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from tests.helpers.process import free_port


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port with a listening socket on it (another program's, as far as songtrack can tell)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _argv(command: str, port: int, data_dir: Path) -> list[str]:
    data = ["--data-dir", str(data_dir)]
    return {
        "run": ["run", *data, "--port", str(port)],
        "run-workers": ["run", *data, "--port", str(port), "--workers", "2"],
        "api": ["api", *data, "--port", str(port)],
        "engine": ["engine", *data, "--port", str(port)],
        "sandbox-meta": ["sandbox", "--meta-port", str(port), "--spotify-port", str(free_port())],
        "sandbox-spotify": ["sandbox", "--meta-port", str(free_port()), "--spotify-port", str(port)],
    }[command]


@pytest.mark.parametrize(("command", "what", "flag"), [
    ("run", "the API", "--port"), ("run-workers", "the API", "--port"), ("api", "the API", "--port"),
    ("engine", "the engine's probes", "--port"),
    ("sandbox-meta", "the Meta simulator", "--meta-port"),
    ("sandbox-spotify", "the Spotify simulator", "--spotify-port"),
])
async def test_a_port_in_use_is_one_line_and_exit_1(
    command: str, what: str, flag: str, held_port: int, data_dir: Path, pg_dsn_factory: Callable[[str], str],
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"SONGTRACK_SIMULATORS_STREAM_RATE": "0"}
    if command in ("api", "engine"):  # they need a database, and bind before they reach it
        env["SONGTRACK_DATABASE_URL"] = pg_dsn_factory("postgres")
    if command == "engine":  # an engine refuses the sandbox's simulators
        env |= {"SONGTRACK_SANDBOX": "off"}
    with trio.fail_after(90):
        done = await trio.run_process([sys.executable, "-m", "songtrack.cli", *_argv(command, held_port, data_dir)],
                                      capture_stdout=True, capture_stderr=True, check=False, env=env,
                                      stdin=subprocess.DEVNULL)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    said = [line for line in stderr.splitlines() if not line.startswith("{")]  # log records are JSON lines
    assert said == [f"songtrack: {what}: port {held_port} on 127.0.0.1 is already in use"
                                   f" (is another songtrack running? {flag} picks another port)"], stderr
    assert "Traceback" not in stderr + done.stdout.decode()
