"""The embedded PostgreSQL: finding binaries, initdb once, reuse, attaching, private socket, failures.

Rules: real binaries and real servers. One cluster for this module lives under a deliberately long path
(so its socket goes to a temp dir) inside a 0700 ``mkdtemp`` parent (so, as root, we see the o+x fix);
each test starts it and stops it again. ``find_binaries`` tests use fake bin directories.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from engine.store import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    PostgresNotFound,
    find_binaries,
    open_database,
)

IS_ROOT = os.geteuid() == 0


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Cluster:
    def __init__(self, parent: Path, first: EmbeddedPostgres, warnings: list[str]) -> None:
        self.parent, self.root, self.first, self.warnings = parent, first.root, first, warnings


@pytest.fixture(scope="module")
def cluster() -> Iterator[_Cluster]:
    parent = Path(tempfile.mkdtemp(prefix="songtrack-embedded-"))  # 0700, owned by us
    records = _Records()
    logging.getLogger("engine.store.embedded").addHandler(records)
    first = EmbeddedPostgres(parent / ("deep-" * 20), fsync=False)
    try:
        first.start()
        first.stop()
        yield _Cluster(parent, first, records.messages)
    finally:
        logging.getLogger("engine.store.embedded").removeHandler(records)
        first.stop()
        shutil.rmtree(parent, ignore_errors=True)


def _fake_bin(directory: Path, names: tuple[str, ...] = ("initdb", "pg_ctl", "postgres", "psql")) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(0o755)
    return directory


def test_missing_binaries_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotFound) as info:
        find_binaries("", glob_root=tmp_path)
    assert "apt-get install postgresql" in str(info.value)
    assert "brew install postgresql" in str(info.value)
    assert "DATABASE_URL" in str(info.value)


def test_newest_debian_layout_wins(tmp_path: Path) -> None:
    _fake_bin(tmp_path / "9.6" / "bin")
    newest = _fake_bin(tmp_path / "16" / "bin")
    _fake_bin(tmp_path / "13" / "bin")
    _fake_bin(tmp_path / "17" / "bin", names=("psql",))  # client only: not a candidate
    assert find_binaries("", glob_root=tmp_path) == newest


def test_path_symlinks_lead_to_the_versioned_directory(tmp_path: Path) -> None:
    real = _fake_bin(tmp_path / "lib" / "15" / "bin")
    on_path = tmp_path / "local-bin"
    on_path.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (on_path / name).symlink_to(real / name)
    assert find_binaries(f"/nonexistent{os.pathsep}{on_path}", glob_root=tmp_path / "none") == real


def test_first_start_creates_and_the_next_reuses(cluster: _Cluster) -> None:
    assert cluster.first.created
    again = EmbeddedPostgres(cluster.root, fsync=False)
    try:
        dsn = again.start()
        assert (again.created, again.reused_running) == (False, False)
        assert trio.run(_fetchval, dsn, "SELECT current_database()") == "songtrack"
    finally:
        again.stop()


def test_socket_is_private_and_there_is_no_tcp(cluster: _Cluster) -> None:
    server = EmbeddedPostgres(cluster.root, fsync=False)
    try:
        dsn = server.start()
        socket_dir = Path(dsn.split("host=")[1].split("&")[0])
        assert socket_dir.name.startswith("songtrack-pg-")  # the deep root does not fit in sun_path
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert trio.run(_fetchval, dsn, "SHOW listen_addresses") == ""
    finally:
        server.stop()
    assert not socket_dir.exists()


@pytest.mark.skipif(not IS_ROOT, reason="only root has to open up parent directories")
def test_as_root_parents_get_search_permission_with_a_warning(cluster: _Cluster) -> None:
    assert stat.S_IMODE(cluster.parent.stat().st_mode) == 0o701
    assert any(str(cluster.parent) in message for message in cluster.warnings)
    assert (cluster.root / "postgres").stat().st_uid != 0


def test_attaching_to_a_running_server(pg_cluster: EmbeddedPostgres) -> None:
    attached = EmbeddedPostgres(pg_cluster.root, database=pg_cluster.database)
    dsn = attached.start()
    assert attached.reused_running and not attached.created
    assert dsn == pg_cluster.dsn()
    attached.stop()  # not ours: must leave the server running
    assert trio.run(_fetchval, dsn, "SELECT 1") == 1


def test_a_server_left_by_a_crashed_run_is_adopted_and_stopped(cluster: _Cluster) -> None:
    # A run that dies without stopping (os._exit: no cleanup, as after SIGKILL) leaves its server running.
    crashed = ("import os, sys; from pathlib import Path; from engine.store.embedded import EmbeddedPostgres;"
               " EmbeddedPostgres(Path(sys.argv[1]), fsync=False).start(); os._exit(0)")
    subprocess.run([sys.executable, "-c", crashed, str(cluster.root)], check=True, timeout=120)
    assert (cluster.root / "postgres" / "postmaster.pid").exists()
    successor = EmbeddedPostgres(cluster.root, fsync=False)
    successor.start()
    assert successor.reused_running
    successor.stop()  # adopted, so ours to stop
    assert not (cluster.root / "postgres" / "postmaster.pid").exists()


def test_a_failed_start_reports_the_server_log(cluster: _Cluster) -> None:
    config = cluster.root / "postgres" / "postgresql.auto.conf"
    original = config.read_text()
    config.write_text(original + "no_such_setting = 1\n")
    try:
        with pytest.raises(EmbeddedPostgresError, match="no_such_setting"):
            EmbeddedPostgres(cluster.root, fsync=False).start()
    finally:
        config.write_text(original)


async def _fetchval(dsn: str, sql: str) -> object:
    async with open_database(dsn, max_size=1) as database:
        return await database.fetchval(sql)
