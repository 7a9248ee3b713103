"""API worker processes for ``songtrack run --workers N``: we bind the listening
socket once and hand it to N ``songtrack api --fd`` children, so the kernel
spreads connections over them while the engine's actors run once, here.

Why processes: hypercorn's trio worker, not trio, limits one process to about
one core (STACK.md), and the workers share state only through PostgreSQL.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import trio
from prometheus_client.multiprocess import mark_process_dead

from songtrack.startup import StartRefused

__all__ = ["WorkerRefused", "bind_socket", "run_workers", "worker_command", "worker_env"]

log = logging.getLogger(__name__)

# A worker's exit status after SIGINT or SIGTERM: 0 once it drained, or death by the signal itself when it
# came before the worker set up its handlers (still starting).
_TOLD_TO_STOP = frozenset({0, -signal.SIGINT, -signal.SIGTERM})
# A worker's exit status when it refused to start on a configuration problem (``songtrack.cli``): a restart
# would refuse again.
_REFUSED = 2


class WorkerRefused(StartRefused):
    """A worker refused to start (exit 2, a configuration problem it printed); the message says which worker."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that child processes can inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def worker_command(sock: socket.socket, argv: Sequence[str]) -> list[str]:
    """``songtrack api --fd N <argv>``: one API worker serving the inherited ``sock``."""
    return [sys.executable, "-m", "songtrack.cli", "api", "--fd", str(sock.fileno()), *argv]


async def run_workers(
    count: int,
    sock: socket.socket,
    command: Sequence[str],
    env: Mapping[str, str],
    stop: Callable[[], Awaitable[None]],
    metrics_dir: Path | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``count`` copies of ``command`` (``worker_command``) until each has stopped.

    Once ``stop()`` returns (our shutdown was requested) each child gets one SIGTERM at once, and drains its
    requests while we drain ours: forwarded at once, it arrives within ``shutdown.REPEAT_WINDOW`` of the same
    signal sent to our whole process group (Ctrl-C, SIGTERM to ``make run``), so a child that got both takes
    them as one request, and a child that got none (a signal to us alone, as ``docker stop`` and systemd's
    mixed kill mode send) is told as well. Returns when every child has exited. On cancellation (the shutdown
    deadline) each child still running gets SIGTERM again ("stop now") and a shielded few seconds before
    SIGKILL. A child that dies on its own before ``stop()`` is restarted: losing one worker must not shrink
    the API silently; one that refused to start (exit 2: its configuration, such as keys other than the
    database's) is not, and we raise ``WorkerRefused`` (the other children are stopped). Once a child has
    exited, its live gauges leave ``metrics_dir`` (its counters stay: what it counted happened).
    """
    stopping = trio.Event()
    async with trio.open_nursery() as nursery:
        for index in range(count):
            nursery.start_soon(_keep_worker, index, list(command), dict(env), sock.fileno(), stopping, metrics_dir)
        task_status.started()
        await stop()
        stopping.set()


async def _keep_worker(index: int, command: list[str], env: dict[str, str], fd: int, stopping: trio.Event,
                       metrics_dir: Path | None) -> None:
    while not stopping.is_set():
        process = await trio.lowlevel.open_process(command, env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL)
        log.info("api worker %d started (pid %d)", index, process.pid)
        try:
            async with trio.open_nursery() as watching:
                watching.start_soon(_forward_stop, stopping, process)
                code = await process.wait()
                watching.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                await _terminate(process)
            if metrics_dir is not None:
                mark_process_dead(process.pid, str(metrics_dir))  # type: ignore[no-untyped-call]  # unannotated
        if stopping.is_set() or code in _TOLD_TO_STOP:
            log.info("api worker %d stopped on a signal; not restarted", index)
            return
        if code == _REFUSED:
            raise WorkerRefused(f"api worker {index} refused to start (exit 2: a configuration problem, said above)")
        log.error("api worker %d exited with %s; restarting in 1 s", index, code)
        await trio.sleep(1)


async def _forward_stop(stopping: trio.Event, process: trio.Process) -> None:
    await stopping.wait()
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)


async def _terminate(process: trio.Process) -> None:
    with trio.CancelScope(shield=True):
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            await process.wait()
            return
        log.warning("api worker pid %d ignored SIGTERM; killing it", process.pid)
        process.kill()
        await process.wait()


def worker_env(base: Mapping[str, str], database_url: str) -> dict[str, str]:
    """The environment of a worker: ours, plus the database the parent opened."""
    env = dict(base)
    env["SONGTRACK_DATABASE_URL"] = database_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
