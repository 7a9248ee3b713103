"""A benchmark's run: a temporary folder and, unless a DSN is given, a throwaway embedded PostgreSQL (fsync
off) started the first time a DSN is asked for; both gone at the end, also after a Ctrl-C (exit 130)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.store import EmbeddedPostgres

__all__ = ["Scratch", "scratch"]


class Scratch:
    """``root``: the run's folder. ``dsn()``: the given database, or the embedded one, started on first use."""

    def __init__(self, root: Path, dsn: str | None) -> None:
        self.root, self._dsn = root, dsn
        self.postgres = None if dsn else EmbeddedPostgres(root / "pg", database="bench", fsync=False)

    def dsn(self) -> str:
        if self._dsn is None:
            assert self.postgres is not None
            self._dsn = self.postgres.start()
        return self._dsn


@contextmanager
def scratch(prefix: str, dsn: str | None) -> Iterator[Scratch]:
    """The run of a benchmark named by ``prefix``; prints how long it took."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # as root, PostgreSQL runs as another account, which must reach its data
    started = time.monotonic()
    run = Scratch(root, dsn)
    try:
        yield run
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        sys.exit(130)
    finally:
        if run.postgres is not None:
            run.postgres.stop()  # nothing to do when it never started
        shutil.rmtree(root, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f} s")
