"""Fixtures of the tests that run ``songtrack`` as a child process: a data directory the embedded cluster
may use, and the list of started processes, each still running at the end killed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.process import SongtrackProcess, killed_at_end


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """``<tmp_path>/var``, not created: ``songtrack`` makes it. Logs may go beside it, in its parent."""
    tmp_path.chmod(0o755)  # the embedded cluster runs as an unprivileged account when we are root
    return tmp_path / "var"


@pytest.fixture
async def processes() -> AsyncIterator[list[SongtrackProcess]]:
    """Add each started process to this list: one still running when the test ends (it failed half-way)
    is killed."""
    async with killed_at_end() as started:
        yield started
