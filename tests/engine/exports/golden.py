"""Golden files: ``check(name, content)`` compares with ``golden/<name>``; ``GOLDEN_UPDATE=1`` rewrites it."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check(name: str, content: bytes) -> None:
    """Asserts ``content`` equals the golden file ``name`` (or rewrites it under ``GOLDEN_UPDATE=1``)."""
    path = GOLDEN / name
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.write_bytes(content)
    assert path.exists(), f"no golden {path}: run with GOLDEN_UPDATE=1, then review it by eye"
    assert content == path.read_bytes(), f"{name} differs from its golden; if intended, GOLDEN_UPDATE=1 and review"
