"""The zero-config PostgreSQL: a private cluster in the data directory, reachable only through a Unix socket.

It owns finding the server binaries, initdb, starting, attaching to and stopping the server, and creating
the application database. It is synchronous (callers wrap it in ``trio.to_thread.run_sync``) and never
uses asyncpg.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "PostgresNotFound", "find_binaries"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin. "
    "Install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; "
    "macOS: brew install postgresql@15) or set DATABASE_URL."
)
_REQUIRED = ("initdb", "pg_ctl", "postgres")
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_PORT = 5432  # the socket is private to our directory, so the default port never clashes with another server
_SOCKET_NAME = f".s.PGSQL.{_PORT}"
_MAX_SOCKET_PATH = 100  # the kernel limit is 107 bytes (sun_path); keep a margin
_SUPERUSER = "postgres"
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_LOG_TAIL_LINES = 30
_ATTACH_TIMEOUT = 60.0


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries on this machine; the message says what to install."""


class EmbeddedPostgresError(RuntimeError):
    """initdb, the server start or the database creation failed; the message ends with the log's tail."""


def find_binaries(search_path: str | None = None, *, glob_root: Path = _DEBIAN_ROOT) -> Path:
    """The directory holding initdb, pg_ctl and postgres: from ``search_path`` (default ``$PATH``) first,
    then the newest ``glob_root/*/bin`` (the Debian layout). Raises ``PostgresNotFound``."""
    path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
    for entry in filter(None, path.split(os.pathsep)):
        pg_ctl = Path(entry) / "pg_ctl"
        if pg_ctl.is_file():
            # Packages often link initdb/pg_ctl into /usr/local/bin but keep psql and the rest in the
            # versioned directory, so prefer the directory the link points into.
            for candidate in (pg_ctl.resolve().parent, Path(entry)):
                if _has_all(candidate):
                    return candidate
    for candidate in sorted(glob_root.glob("*/bin"), key=_version_key, reverse=True):
        if _has_all(candidate):
            return candidate
    raise PostgresNotFound(_INSTALL_HINT)


def _has_all(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in _REQUIRED)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    parts = bin_dir.parent.name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (-1,)


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``root/"postgres"``, its log in ``root/"postgres.log"``, no TCP listener.

    ``start()`` runs initdb on first use, starts the server (or attaches to one already running) and
    returns an asyncpg DSN; ``stop()`` stops the server only if this object owns it. Ownership is an
    exclusive ``flock`` on ``root/"postgres.owner"``, held from ``start()`` to ``stop()``: the kernel drops
    it when its process dies, however it dies, so a server found running while nobody holds the lock was
    left by a crashed (e.g. SIGKILLed) run and is adopted, and stopped at the end like one we started;
    a server another live process owns is only attached to. As root, the
    server runs as the ``postgres`` account (``nobody`` if there is none), because PostgreSQL refuses root.
    ``fsync=False`` is for tests and benchmarks only: a crash can then corrupt the cluster.
    """

    def __init__(self, root: Path, *, database: str = "songtrack", fsync: bool = True) -> None:
        if not _DATABASE_NAME.fullmatch(database):
            raise ValueError(f"database name {database!r} must be a plain identifier")
        self.root = root
        self.database = database
        self.fsync = fsync
        self.created = False
        self.reused_running = False
        self._cluster = root / "postgres"
        self._log = root / "postgres.log"
        self._bin: Path | None = None
        self._account: tuple[int, int] | None = None  # (uid, gid) to run as; None: ourselves
        self._socket_dir: Path | None = None
        self._port = _PORT
        self._started = False
        self._temp_socket_dir = False
        self._owner_fd: int | None = None  # the open lock file while we own the server

    def start(self) -> str:
        """Ensure the server runs and ``database`` exists; return its DSN. Raises ``PostgresNotFound`` or
        ``EmbeddedPostgresError``."""
        self._bin = find_binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        self._account = _server_account(self._cluster)
        self.created = self.reused_running = False
        if self._account is not None:
            _allow_traversal(self.root, self._account[0])
        if not (self._cluster / "PG_VERSION").exists():
            self._initdb()
        owner = self._take_ownership()
        try:
            if self._is_running():
                self._attach()
                if owner:  # nobody alive owns it: a crashed run left it behind, and it is ours now
                    self._started = True
                    logger.warning("adopted the PostgreSQL server a crashed run left in %s", self._cluster)
            else:
                self._start_server()
        except BaseException:
            self._release_ownership()
            raise
        try:
            self._ensure_database()
        except BaseException:
            self.stop()  # do not leave a server behind that the caller never got a DSN for
            raise
        return self.dsn()

    def stop(self) -> None:
        """Stop the server (fast shutdown, waiting for it) if we own it; otherwise do nothing."""
        if not self._started or self._bin is None:
            self._release_ownership()
            return
        result = self._run(self._bin / "pg_ctl", "stop", "-m", "fast", "-w", "-D", self._cluster)
        self._started = False
        self._remove_temp_socket_dir()
        self._release_ownership()
        if result.returncode != 0 and self._is_running():
            raise self._error("pg_ctl stop", result)
        logger.info("stopped PostgreSQL in %s", self._cluster)  # or someone else already had

    def _take_ownership(self) -> bool:
        """Try the owner lock; True when we hold it (now or already)."""
        if self._owner_fd is not None:
            return True
        fd = os.open(self.root / "postgres.owner", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._owner_fd = fd
        return True

    def _release_ownership(self) -> None:
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # closing drops the flock
            self._owner_fd = None

    def dsn(self, database: str | None = None) -> str:
        """An asyncpg DSN for ``database`` (default: ours) on the server's socket; valid after ``start()``."""
        if self._socket_dir is None:
            raise RuntimeError("EmbeddedPostgres.start() has not run")
        host = quote(str(self._socket_dir), safe="/")
        return f"postgresql://{_SUPERUSER}@/{database or self.database}?host={host}&port={self._port}"

    # --- steps of start() ---------------------------------------------------------------------------------

    def _initdb(self) -> None:
        assert self._bin is not None
        self._cluster.mkdir(mode=0o700, exist_ok=True)
        self._give_to_server(self._cluster)
        args = ("-D", self._cluster, "-U", _SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        result = self._run(self._bin / "initdb", *args)
        if result.returncode != 0:
            raise self._error("initdb", result)
        self.created = True
        logger.info("initialized a PostgreSQL cluster in %s", self._cluster)

    def _attach(self) -> None:
        lines = self._wait_until_ready()
        if not lines[4].strip():
            raise EmbeddedPostgresError(f"a server runs on {self._cluster} but has no Unix socket to use")
        self._port, self._socket_dir = int(lines[3]), Path(lines[4].strip())
        self.reused_running = True
        logger.info("attached to the PostgreSQL server already running on %s", self._cluster)

    def _wait_until_ready(self) -> list[str]:
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shm key, status.
        # A server another process is still starting says "starting" in the status line; wait for it.
        deadline = time.monotonic() + _ATTACH_TIMEOUT
        while True:
            try:
                lines = (self._cluster / "postmaster.pid").read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return lines
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"the server running on {self._cluster} did not become ready")
            time.sleep(0.1)

    def _start_server(self) -> None:
        assert self._bin is not None
        self._socket_dir = self._make_socket_dir()
        self._log.touch()
        self._give_to_server(self._log)
        options = f"-k {shlex.quote(str(self._socket_dir))} -c listen_addresses='' -p {_PORT}"
        if not self.fsync:
            options += " -c fsync=off"
        args = ("start", "-w", "-t", "60", "-D", self._cluster, "-l", self._log, "-o", options)
        result = self._run(self._bin / "pg_ctl", *args)
        if result.returncode != 0:
            self._remove_temp_socket_dir()
            raise self._error("pg_ctl start", result)
        self._port, self._started = _PORT, True
        logger.info("started PostgreSQL in %s (socket %s)", self._cluster, self._socket_dir)

    def _make_socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred / _SOCKET_NAME)) < _MAX_SOCKET_PATH:
            preferred.mkdir(mode=0o700, exist_ok=True)
            socket_dir, self._temp_socket_dir = preferred, False
        else:  # a deep data directory: the socket path would not fit in sun_path
            socket_dir, self._temp_socket_dir = Path(tempfile.mkdtemp(prefix="songtrack-pg-")), True
        os.chmod(socket_dir, 0o700)  # only the server account (and root) may connect: auth is "trust"
        self._give_to_server(socket_dir)
        return socket_dir

    def _ensure_database(self) -> None:
        assert self._socket_dir is not None and self._bin is not None
        psql = self._bin / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or psql)
        base = [psql, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", self._socket_dir]
        base += ["-p", self._port, "-U", _SUPERUSER, "-d", "postgres", "-c"]
        # The name was validated as a plain identifier in __init__, so it is safe to interpolate.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"
        exists = self._run(*base, query, as_server=False)
        if exists.returncode != 0:
            raise self._error("connecting with psql", exists)
        if exists.stdout.strip() == "1":
            return
        created = self._run(*base, f'CREATE DATABASE "{self.database}"', as_server=False)
        if created.returncode != 0 and "already exists" not in created.stderr:  # lost a race: fine
            raise self._error(f"creating database {self.database}", created)
        logger.info("created database %s", self.database)

    # --- helpers ------------------------------------------------------------------------------------------

    def _is_running(self) -> bool:
        assert self._bin is not None
        return self._run(self._bin / "pg_ctl", "status", "-D", self._cluster).returncode == 0

    def _run(self, *argv: object, as_server: bool = True) -> subprocess.CompletedProcess[str]:
        account = self._account if as_server else None
        try:
            return subprocess.run(
                [str(arg) for arg in argv],
                capture_output=True,
                text=True,
                # PG* variables from the caller's environment would redirect psql or pg_ctl elsewhere.
                env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
                cwd="/",  # the server account may not be able to enter our working directory
                user=account[0] if account else None,
                group=account[1] if account else None,
                extra_groups=[] if account else None,  # do not pass root's supplementary groups on
                # Its own session: a Ctrl-C in the terminal goes to the whole foreground process group,
                # and PostgreSQL answers SIGINT with a fast shutdown (initdb with abandoning its work).
                # We stop the server ourselves, after the engine has drained.
                start_new_session=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedPostgresError(f"running {argv[0]} failed: {exc}") from exc

    def _give_to_server(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, *self._account)

    def _remove_temp_socket_dir(self) -> None:
        if self._temp_socket_dir and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def _error(self, step: str, result: subprocess.CompletedProcess[str]) -> EmbeddedPostgresError:
        output = (result.stderr or result.stdout).strip()
        try:
            tail = "\n".join(self._log.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:])
        except OSError:
            tail = "(no server log)"
        return EmbeddedPostgresError(
            f"{step} failed (exit {result.returncode}): {output}\n--- tail of {self._log} ---\n{tail}"
        )


def _server_account(cluster: Path) -> tuple[int, int] | None:
    """The (uid, gid) the server must run as, or None to run it as ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    if (cluster / "PG_VERSION").exists() and (owner := cluster.stat()).st_uid != 0:
        return owner.st_uid, owner.st_gid  # an existing cluster can only be run by its owner
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise EmbeddedPostgresError("running as root, and there is neither a 'postgres' nor a 'nobody' account")


def _allow_traversal(directory: Path, uid: int) -> None:
    """Give "others" search permission (x, never read) on ``directory`` and its ancestors where the server
    account could not otherwise traverse them (a ``mktemp -d`` parent is 0700 root), as pgserver does."""
    entry = pwd.getpwuid(uid)
    groups = set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    for path in (directory, *directory.parents):
        info = path.stat()
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            os.chmod(path, stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
            logger.warning("added o+x to %s so %s can reach the PostgreSQL data", path, entry.pw_name)
