"""The API workers of ``songtrack run --workers N`` are told to stop when we are, once: a signal to the
parent alone (``docker stop``, systemd's mixed kill mode) reaches every worker at once, so they drain while
the engine drains, and the parent waits for them. A worker that dies on its own is restarted; one that refused
to start (exit 2) is not.

The workers here are real child processes running a small script that writes down every signal it gets,
so the test sees exactly what a worker would; the real clock, every wait bounded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from songtrack.workers import WorkerRefused, bind_socket, run_workers

# A worker: says it is up, waits for a signal, "drains" for a while (still noting signals), exits 0. A file
# named by the second argument makes its first run crash instead, once.
WORKER = """
import os, signal, sys, time
out, crash_once = sys.argv[1], sys.argv[2]
def note(line):
    with open(out, "a") as f:
        f.write(f"{os.getpid()} {line}\\n")
signals = []
def got(signum, frame):
    signals.append(signum)
    note(signal.Signals(signum).name)
signal.signal(signal.SIGTERM, got)
if os.path.exists(crash_once):
    os.remove(crash_once)
    note("crashing")
    sys.exit(3)
note("up")
while not signals:
    time.sleep(0.01)
time.sleep(1.0)
note("drained")
"""


def _lines(out: Path) -> list[tuple[int, str]]:
    text = out.read_text() if out.exists() else ""
    return [(int(pid), what) for pid, what in (line.split(" ", 1) for line in text.splitlines())]


async def _until(out: Path, what: str, count: int) -> None:
    with trio.fail_after(20):
        while sum(1 for _, seen in _lines(out) if seen == what) < count:  # noqa: ASYNC110 -- another process's file
            await trio.sleep(0.05)


async def _run(tmp_path: Path, crash_once: bool) -> tuple[Path, float, float]:
    """Two workers; our shutdown is requested once both are up. Returns what they noted, when the stop was
    asked and when ``run_workers`` returned."""
    script, out, crash = tmp_path / "worker.py", tmp_path / "signals.txt", tmp_path / "crash-once"
    script.write_text(WORKER)
    if crash_once:
        crash.touch()
    stop = trio.Event()
    with bind_socket("127.0.0.1", 0) as sock:
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def workers() -> None:
                await run_workers(2, sock, [sys.executable, str(script), str(out), str(crash)], dict(os.environ),
                                  stop.wait)
                done.set()

            nursery.start_soon(workers)
            await _until(out, "up", 2)
            asked = trio.current_time()
            stop.set()
            with trio.fail_after(20):
                await done.wait()
            return out, asked, trio.current_time()


async def test_a_stop_reaches_each_worker_once_and_the_parent_waits_for_their_drain(tmp_path: Path) -> None:
    out, asked, returned = await _run(tmp_path, crash_once=False)
    lines = _lines(out)
    workers = {pid for pid, what in lines if what == "up"}
    assert len(workers) == 2
    for pid in workers:  # one SIGTERM each: a second one would have meant "stop now"
        assert [what for seen, what in lines if seen == pid] == ["up", "SIGTERM", "drained"]
    assert returned - asked >= 1.0  # it waited for the workers' drain instead of cutting it


async def test_a_worker_that_dies_on_its_own_is_restarted(tmp_path: Path) -> None:
    out, _, _ = await _run(tmp_path, crash_once=True)
    lines = _lines(out)
    assert sum(1 for _, what in lines if what == "crashing") == 1
    assert sum(1 for _, what in lines if what == "drained") == 2  # the crashed one came back and served


async def test_a_worker_that_refuses_to_start_is_not_restarted(tmp_path: Path) -> None:
    script = tmp_path / "refuse.py"  # exit 2: a configuration problem (keys other than the database's)
    script.write_text("import sys\nsys.exit(2)\n")
    with bind_socket("127.0.0.1", 0) as sock, pytest.raises(ExceptionGroup) as caught, trio.fail_after(20):
        await run_workers(2, sock, [sys.executable, str(script)], dict(os.environ), trio.sleep_forever)
    assert caught.group_contains(WorkerRefused)
