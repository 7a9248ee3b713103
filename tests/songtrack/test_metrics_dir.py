"""``songtrack run --workers 2`` scraped as one: requests answered by both API workers add up in a single
scrape of whichever worker answers it (a real child process, real HTTP, the real clock; every wait bounded),
and which directory each command's process records into.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx
import trio
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from config import load
from songtrack.metrics_dir import MULTIPROC_ENV, metrics_directory
from tests.helpers.process import SongtrackProcess, free_port

ROUTE = {"method": "GET", "route": "/health/live", "status": "200"}


def _answered_by_pid(metrics_dir: Path) -> dict[int, float]:
    """How many ``GET /health/live`` each process counted, read from its own file (``counter_<pid>.db``)."""
    counted = {}
    for path in metrics_dir.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        counted[int(path.stem.split("_")[1])] = sum(
            value for key, value, _, _ in values
            if '"/health/live"' in key and '"songtrack_http_requests_total"' in key)
    return {pid: n for pid, n in counted.items() if n}


async def _scraped(client: httpx.AsyncClient) -> float:
    response = await client.get("/metrics", headers={"Connection": "close"})
    assert response.status_code == 200
    return sum(sample.value for family in text_string_to_metric_families(response.text)
               for sample in family.samples
               if sample.name == "songtrack_http_requests_total" and sample.labels == ROUTE)


async def test_one_scrape_counts_the_requests_of_every_worker(data_dir: Path,
                                                              processes: list[SongtrackProcess]) -> None:
    port = free_port()
    env = {**os.environ, "SONGTRACK_SIMULATORS_STREAM_RATE": "0"}
    proc = SongtrackProcess(["run", "--data-dir", str(data_dir), "--port", str(port), "--workers", "2"],
                            data_dir.parent / "songtrack.log", env)
    processes.append(proc)
    await proc.start()
    await proc.wait_ready(f"http://127.0.0.1:{port}")
    await proc.wait_for_output("serving fd://", count=2)
    sent = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        # A new connection each time ("Connection: close"), so the kernel hands each to either worker.
        with trio.fail_after(30):
            while len(_answered_by_pid(data_dir / "metrics")) < 2:
                assert (await client.get("/health/live", headers={"Connection": "close"})).status_code == 200
                sent += 1
        by_pid = _answered_by_pid(data_dir / "metrics")
        assert proc.process is not None and proc.process.pid not in by_pid  # the parent serves no HTTP here
        assert sum(by_pid.values()) == sent
        for _ in range(4):  # whichever worker answers the scrape
            assert await _scraped(client) == sent
    assert await proc.stop(signal.SIGTERM) == 0


def test_run_starts_from_an_empty_directory_and_a_worker_uses_its_parents(tmp_path: Path) -> None:
    settings = load({"SONGTRACK_DATA_DIR": str(tmp_path)})
    stale = tmp_path / "metrics" / "counter_123.db"  # an earlier run's: its counts must not come back
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    assert metrics_directory("run", settings, {}) == tmp_path / "metrics"
    assert list((tmp_path / "metrics").iterdir()) == []
    assert metrics_directory("api", settings, {MULTIPROC_ENV: str(tmp_path / "metrics")}) == tmp_path / "metrics"
    assert metrics_directory("api", settings, {}) is None  # a process of its own counts in memory
    workers = load({"SONGTRACK_DATA_DIR": str(tmp_path), "SONGTRACK_SERVER_WORKERS": "2"})
    assert metrics_directory("api", workers, {}) == tmp_path / "metrics-api-3000"  # not run's: both may share
    assert metrics_directory("engine", settings, {}) is None
    assert metrics_directory("migrate", settings, {}) is None


async def test_the_command_line_loads_no_metrics_before_pointing_them_at_their_directory() -> None:
    """prometheus_client picks memory or files when first imported: ``songtrack.cli`` must not import it (through
    any module, a command's included) before ``main`` has set the directory, or every command refuses to start."""
    done = await trio.run_process([sys.executable, "-c", "import sys, songtrack.cli; print(sorted(m for m in"
                                   " sys.modules if m.startswith(('prometheus_client', 'engine.metrics'))))"],
                                  capture_stdout=True, check=True)
    assert done.stdout.decode().strip() == "[]"
