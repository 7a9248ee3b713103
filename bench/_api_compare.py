"""The deployments ``bench/api.py`` compares after its per-route table: our API as ``songtrack api --workers N``
runs it (N processes on one inherited listening socket, N = the cores) and SongTrackPro's Express app as Node
runs it by default (one process), each serving the profile read from the same PostgreSQL.

The Express app (bench/express/server.js) is the smallest faithful one: Express 5, jsonwebtoken and pg, pinned
in bench/express/package-lock.json and installed here with ``npm ci`` on first use; it verifies the same HS256
token our API issued (same key) and selects the user by id. Without Node or npm, or when npm cannot install,
its row is skipped with the reason printed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench._server import ServerProcess
from songtrack.workers import bind_socket

__all__ = ["EXPRESS", "start_express", "start_workers", "stop_all"]

EXPRESS = Path(__file__).resolve().parent / "express"
_START_TIMEOUT = 60.0


def start_workers(argv: Sequence[str], root: Path, count: int, env: dict[str, str]) -> tuple[list[ServerProcess], str]:
    """``count`` copies of the server command ``argv`` (each given ``--fd``) on one listening socket; their
    URL. Each writes its ready file in a folder of its own under ``root``."""
    sock = bind_socket("127.0.0.1", 0)
    servers: list[ServerProcess] = []
    try:
        for index in range(count):
            folder = root / f"worker-{index}"
            folder.mkdir(exist_ok=True)
            server, _ = ServerProcess.launch([*argv, "--fd", str(sock.fileno())], folder, what=f"API worker {index}",
                                             start_timeout=_START_TIMEOUT, env=env, pass_fds=(sock.fileno(),))
            servers.append(server)
        return servers, f"http://127.0.0.1:{sock.getsockname()[1]}"
    except BaseException:
        stop_all(servers)
        raise
    finally:
        sock.close()  # the workers hold their own copies


def start_express(dsn: str, root: Path, jwt_key: bytes) -> tuple[ServerProcess, str] | str:
    """The Express app on ``dsn`` and its URL, or why it cannot run here."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js or npm is missing (.ci/run installs them; apt-get install nodejs npm)"
    if not (EXPRESS / "node_modules").is_dir():
        done = subprocess.run([npm, "ci", "--prefix", str(EXPRESS), "--no-audit", "--no-fund", "--loglevel=error"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"npm ci could not install bench/express: {done.stderr.strip()[-300:]}"
    folder = root / "express"
    folder.mkdir(exist_ok=True)
    env = {"DATABASE_URL": dsn, "JWT_SECRET_HEX": jwt_key.hex()}
    return ServerProcess.launch([node, str(EXPRESS / "server.js")], folder, what="Express app",
                                start_timeout=_START_TIMEOUT, env=env)


def stop_all(servers: Sequence[ServerProcess]) -> list[str]:
    """Stop every server; the log tails of those that did not exit cleanly."""
    return [server.tail() for server in servers if server.stop() != 0]
