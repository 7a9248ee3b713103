"""Running ``songtrack`` as a real child process for end-to-end tests.

These tests use the real clock: the child process lives on it, so MockClock
cannot drive it. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

__all__ = ["SongtrackProcess", "free_port", "killed_at_end"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SongtrackProcess:
    """``songtrack <args>`` with its output in ``log_path``."""

    def __init__(self, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args, self.log_path = list(args), log_path
        self.env = {k: v for k, v in (env or os.environ).items() if k != "DATABASE_URL"}
        self.process: trio.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "songtrack.cli", *self.args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
        )
        log.close()

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, base_url: str, within: float = 60) -> httpx.Response:
        """Poll /health/ready until 200; fail with the process output otherwise."""
        assert self.process is not None
        async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
            with trio.move_on_after(within):
                while self.process.returncode is None:
                    try:
                        response = await client.get("/health/ready")
                        if response.status_code == 200:
                            return response
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.2)
        raise AssertionError(f"not ready after {within}s; output:\n{self.output}")

    async def wait_for_output(self, text: str, count: int = 1, within: float = 30) -> None:
        """Wait until ``text`` appears ``count`` times in the output (polling: it is a file)."""
        with trio.move_on_after(within):
            while True:
                if self.output.count(text) >= count:
                    return
                await trio.sleep(0.1)
        raise AssertionError(f"{text!r} not seen {count} times in {within}s; output:\n{self.output}")

    def stop_nowait(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` (a graceful stop by default) and return at once."""
        assert self.process is not None
        self.process.send_signal(signum)

    async def exited(self, within: float = 30) -> int:
        """Its exit code, once it has exited (within ``within`` seconds)."""
        assert self.process is not None
        with trio.fail_after(within):
            return await self.process.wait()

    async def stop(self, signum: int = signal.SIGTERM, within: float = 30) -> int:
        self.stop_nowait(signum)
        return await self.exited(within)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@asynccontextmanager
async def killed_at_end() -> AsyncIterator[list[SongtrackProcess]]:
    """A list to add started processes to; each still running at the end is killed (a test failed half-way)."""
    started: list[SongtrackProcess] = []
    yield started
    for proc in started:
        await proc.kill()
