"""Helpers of the tests that drive a real browser: where Debian's Chromium is, the accessibility check every
page passes, and screenshots for docs/console.md.

Playwright drives the system Chromium (``launch(executable_path=...)``): ``playwright install`` is never run,
so the browser comes from the distribution (``make test`` installs the ``chromium`` package when it may).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

__all__ = ["CHROMIUM_MISSING", "assert_accessible", "chromium_path", "drawn_pixels", "screenshot"]

CHROMIUM_MISSING = "Chromium is not installed: install Debian's chromium package (apt-get install chromium)"
_BLOCKING = {"serious", "critical"}
_AXE = Axe()  # holds axe-core's script, read once


def chromium_path() -> str | None:
    """The system Chromium's executable, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation (each one named with its nodes)."""
    violations = _AXE.run(page).response["violations"]
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']}: {len(v['nodes'])} nodes, {[n['target'] for n in v['nodes'][:5]]}"
        for v in violations if v["impact"] in _BLOCKING
    ]
    assert blocking == [], "\n".join(blocking)


def screenshot(page: Page, name: str) -> Path | None:
    """``<name>.png`` of the whole page into the folder ``SONGTRACK_SCREENSHOTS`` names (the docs' pictures are
    made with ``SONGTRACK_SCREENSHOTS=docs/console``); without it, nothing: a test run leaves the tree as it was."""
    folder = os.environ.get("SONGTRACK_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True, animations="disabled")
    return path


_DRAWN_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) drawn++;
  return drawn;
}"""


def drawn_pixels(page: Page, canvas: str) -> int:
    """How many pixels of the ``canvas`` (a CSS selector) are not transparent: a chart drew something."""
    return int(page.evaluate(_DRAWN_PIXELS, canvas))
