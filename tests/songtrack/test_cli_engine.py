"""`songtrack engine` and `songtrack api --workers N` as a label scales out runs them: real child processes
against one PostgreSQL database (a fresh migrated one of the session's server), real HTTP, real signals.
The engines are given real-looking provider settings (a Meta app and a Spotify client, at addresses nothing
answers: no account is connected, so nothing is called), since an engine refuses the sandbox's simulators.

Rules: real clock (children cannot follow MockClock), every wait has a deadline, each child still running
when a test fails half-way is killed. Few tests: each child costs seconds.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import trio

from config import load_or_create_keys
from engine.store import open_database
from songtrack.keys_check import check_keys
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.signup import register

PROVIDERS = {  # real-looking: no simulator stands in for either
    "SONGTRACK_META_APP_ID": "1234567890", "SONGTRACK_META_APP_SECRET": "not-a-real-secret",
    "SONGTRACK_META_GRAPH_URL": "http://127.0.0.1:9", "SONGTRACK_META_DIALOG_URL": "http://127.0.0.1:9",
    "SONGTRACK_SPOTIFY_CLIENT_ID": "abc123", "SONGTRACK_SPOTIFY_ACCOUNTS_URL": "http://127.0.0.1:9",
    "SONGTRACK_SPOTIFY_API_URL": "http://127.0.0.1:9",
}


def _env(dsn: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SONGTRACK_")} | extra
    return env | ({"SONGTRACK_DATABASE_URL": dsn} if dsn is not None else {})


def _process(processes: list[SongtrackProcess], log: Path, args: list[str], env: dict[str, str]) -> SongtrackProcess:
    proc = SongtrackProcess(args, log, env)
    processes.append(proc)
    return proc


async def _exit_code(proc: SongtrackProcess) -> int:
    await proc.start()
    assert proc.process is not None
    with trio.fail_after(30):
        return await proc.process.wait()


async def test_an_engine_refuses_without_a_database_with_simulators_or_with_other_keys(
    property_dsn: str, tmp_path: Path, processes: list[SongtrackProcess]
) -> None:
    data_dir = tmp_path / "var"
    first_keys = tmp_path / "first"
    async with open_database(property_dsn, max_size=1) as db:  # the first process's keys, recorded
        await check_keys(db, load_or_create_keys(first_keys), first_keys)
    args = ["engine", "--data-dir", str(data_dir), "--port", str(free_port())]
    no_database = _process(processes, tmp_path / "a.log", args, _env(None, **PROVIDERS))
    simulated = _process(processes, tmp_path / "b.log", args, _env(property_dsn))
    other_keys = _process(processes, tmp_path / "c.log", args, _env(property_dsn, **PROVIDERS))
    api_with_other_keys = _process(processes, tmp_path / "d.log",
                                   ["api", "--data-dir", str(data_dir), "--port", str(free_port())],
                                   _env(property_dsn, **PROVIDERS))
    assert await _exit_code(no_database) == 2
    assert "songtrack engine needs SONGTRACK_DATABASE_URL" in no_database.output
    assert await _exit_code(simulated) == 2
    assert "does not run the sandbox's simulators (no credentials for meta or spotify)" in simulated.output
    assert await _exit_code(other_keys) == 2
    assert f"{data_dir / 'keys' / 'jwt-signing.key'}, {data_dir / 'keys' / 'token-encryption.key'}: a key other"\
        in other_keys.output
    assert "copy the keys directory (keys/)" in other_keys.output
    assert await _exit_code(api_with_other_keys) == 2
    assert "token-encryption.key: a key other than the one" in api_with_other_keys.output


async def test_two_engines_and_an_api_with_two_workers_share_a_database(
    property_dsn: str, tmp_path: Path, processes: list[SongtrackProcess]
) -> None:
    data_dir, env = tmp_path / "var", _env(property_dsn, **PROVIDERS)
    probe_ports, api_port = [free_port(), free_port()], free_port()
    engines = [_process(processes, tmp_path / f"engine{n}.log",
                        ["engine", "--data-dir", str(data_dir), "--port", str(port)], env)
               for n, port in enumerate(probe_ports)]
    api = _process(processes, tmp_path / "api.log",
                   ["api", "--data-dir", str(data_dir), "--port", str(api_port), "--workers", "2"], env)
    for proc in [*engines, api]:
        await proc.start()
    for proc, port in [*zip(engines, probe_ports, strict=True), (api, api_port)]:
        await proc.wait_ready(f"http://127.0.0.1:{port}")
    await api.wait_for_output("serving fd://", count=2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as client:
        metrics = await client.get(f"http://127.0.0.1:{probe_ports[0]}/metrics")
        headers = await register(client)
        with trio.move_on_after(20):  # ready means the database is; each engine registers itself just after
            while len(nodes := (await client.get("/v1/engine/status", headers=headers)).json()["nodes"]) < 2:  # noqa: ASYNC110 -- other processes' rows
                await trio.sleep(0.2)
    assert metrics.status_code == 200
    assert "songtrack_actor_restarts" in metrics.text
    assert sorted(n["pid"] for n in nodes) == sorted(p.process.pid for p in engines if p.process is not None)
    assert all(n["accounts"] == 0 and n["ownAccounts"] == [] for n in nodes)
    for proc in [*engines, api]:
        assert await proc.stop(signal.SIGTERM) == 0, proc.output
