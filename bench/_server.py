"""A benchmark's server in a child process: started in its own session (so a Ctrl-C at the terminal reaches
it only through ``stop``), ready once it has written its ready file, and its output kept in a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerProcess"]


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    stop_timeout: float

    @classmethod
    def launch(cls, argv: Sequence[str], root: Path, *, what: str, start_timeout: float,
               stop_timeout: float = 20.0, env: Mapping[str, str] | None = None,
               pass_fds: Sequence[int] = ()) -> tuple[ServerProcess, str]:
        """Start ``argv``, which must write ``root/ready`` whole (write then rename) once it serves;
        returns the process and that file's text. Exits with the log's tail if it dies or is late."""
        ready, log = root / "ready", root / "server.log"
        ready.unlink(missing_ok=True)  # a previous server in the same root wrote one
        with log.open("wb") as out:
            process = subprocess.Popen([*argv, "--ready", str(ready)], env={**os.environ, **(env or {})},
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       pass_fds=tuple(pass_fds))
        server = cls(process, log, stop_timeout)
        try:
            deadline = time.monotonic() + start_timeout
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {what} did not start; its log:\n{server.tail()}")
                time.sleep(0.05)
        except BaseException:  # Ctrl-C too: the caller has no handle to stop it with yet
            server.stop()
            raise
        return server, ready.read_text()

    def stop(self) -> int:
        """SIGTERM (a graceful stop, as in production), SIGKILL after ``stop_timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
