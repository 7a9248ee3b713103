"""A configured database that is not up when the service starts: ``songtrack run`` and ``songtrack api`` (real
child processes) wait for it, answering 503 meanwhile, and serve normally once it is up; a signal during the
wait stops them at once; a database that refuses us (a wrong password) is one line and exit 1.

The cluster is this module's own, with password authentication (the embedded one trusts its socket), and is
stopped and started by the tests: never the session's. Real clock; every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from engine.store import EmbeddedPostgres, open_database
from tests.helpers.cluster import own_cluster
from tests.helpers.process import SongtrackProcess, free_port

PASSWORD = "s3cret-startup"
UP_WITHIN = 10.0  # the wait retries at most 5 s apart; migrations of an empty database take the rest


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedPostgres]:
    with own_cluster("st-start-") as server:
        trio.run(_require_password, server)
        yield server


async def _require_password(server: EmbeddedPostgres) -> None:
    """A role that logs in with a password; ``postgres`` keeps the trust ``EmbeddedPostgres.start`` needs."""
    async with open_database(server.dsn(), max_size=1) as db:
        await db.execute(f"CREATE ROLE app LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        hba = server.root / "postgres" / "pg_hba.conf"
        hba.write_text("local all app scram-sha-256\nlocal all all trust\n")  # keeps its owner: the server's
        await db.fetchval("SELECT pg_reload_conf()")


def _dsn(server: EmbeddedPostgres, password: str) -> str:
    return server.dsn().replace("postgres@", f"app:{password}@", 1)


async def _songtrack(processes: list[SongtrackProcess], tmp_path: Path, dsn: str, *args: str) -> SongtrackProcess:
    env = {**os.environ, "SONGTRACK_DATABASE_URL": dsn, "SONGTRACK_SANDBOX": "off"}
    proc = SongtrackProcess([*args, "--data-dir", str(tmp_path / "var")], tmp_path / f"{args[0]}.log", env)
    processes.append(proc)
    await proc.start()
    return proc


async def _while_waiting(base: str) -> None:
    """What a client sees while the database is not up: alive, not ready, and 503 with Retry-After."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        assert (await client.get("/health/live")).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 503 and ready.headers["retry-after"].isdigit(), ready.text
        login = await client.post("/v1/auth/login", json={"email": "op@label.example", "password": "long-enough"})
        assert login.status_code == 503 and login.headers["retry-after"].isdigit(), login.text
        assert login.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


async def test_run_and_api_wait_for_a_database_that_is_not_up_yet(
    cluster: EmbeddedPostgres, tmp_path: Path, processes: list[SongtrackProcess]
) -> None:
    await trio.to_thread.run_sync(cluster.stop)
    dsn = _dsn(cluster, PASSWORD)
    run_port, api_port = free_port(), free_port()
    run = await _songtrack(processes, tmp_path, dsn, "run", "--port", str(run_port))
    await run.wait_for_output("waiting for the database at")
    api = await _songtrack(processes, tmp_path, dsn, "api", "--port", str(api_port))
    await api.wait_for_output("waiting for the database at")
    for base in (f"http://127.0.0.1:{run_port}", f"http://127.0.0.1:{api_port}"):
        await _while_waiting(base)

    await trio.to_thread.run_sync(cluster.start)
    await run.wait_ready(f"http://127.0.0.1:{run_port}", within=UP_WITHIN)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{run_port}", timeout=5) as client:
        registered = await client.post("/v1/auth/register", json={
            "email": "op@label.example", "password": "long-enough", "name": "Op", "organizationName": "Label"})
        assert registered.status_code == 201, registered.text
    await api.wait_ready(f"http://127.0.0.1:{api_port}", within=UP_WITHIN)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as client:
        login = await client.post("/v1/auth/login", json={"email": "op@label.example", "password": "long-enough"})
        assert login.status_code == 200, login.text

    assert await run.stop() == 0 and await api.stop() == 0
    for proc in (run, api):
        assert proc.output.count("waiting for the database at") == 1, proc.output  # once, not once per retry
        assert PASSWORD not in proc.output
        assert "Traceback" not in proc.output, proc.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_while_waiting_for_the_database_stops_at_once(
    cluster: EmbeddedPostgres, tmp_path: Path, processes: list[SongtrackProcess], signum: int
) -> None:
    await trio.to_thread.run_sync(cluster.stop)
    run = await _songtrack(processes, tmp_path, _dsn(cluster, PASSWORD), "run", "--port", str(free_port()))
    await run.wait_for_output("waiting for the database at")
    assert await run.stop(signum, within=5) == 0, run.output
    assert "Traceback" not in run.output, run.output


async def test_a_wrong_password_is_one_line_and_exit_1(
    cluster: EmbeddedPostgres, tmp_path: Path, processes: list[SongtrackProcess]
) -> None:
    await trio.to_thread.run_sync(cluster.start)
    run = await _songtrack(processes, tmp_path, _dsn(cluster, "Wr0ng-pass"), "run", "--port", str(free_port()))
    assert run.process is not None
    with trio.fail_after(30):
        assert await run.process.wait() == 1, run.output
    assert "Traceback" not in run.output, run.output
    assert "Wr0ng-pass" not in run.output
    lines = [line for line in run.output.splitlines() if line.startswith("songtrack: ")]
    assert len(lines) == 1 and "refused the connection: password authentication failed" in lines[0], run.output
