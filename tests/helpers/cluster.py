"""A PostgreSQL cluster of a test's own, for tests that stop and start the server (never the session's)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.store import EmbeddedPostgres

__all__ = ["own_cluster"]


@contextmanager
def own_cluster(prefix: str) -> Iterator[EmbeddedPostgres]:
    """A started cluster in a fresh directory; stopped and removed on exit whatever happens."""
    root = Path(tempfile.mkdtemp(prefix=prefix))  # short: the socket path must fit in sun_path
    root.chmod(0o755)  # as root, the server runs as another account, which must reach its data
    server = EmbeddedPostgres(root, fsync=False)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
