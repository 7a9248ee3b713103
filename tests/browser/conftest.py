"""Fixtures of the tests in a real browser: ONE ``songtrack run`` in sandbox mode and ONE Chromium for all of
them, and a fresh browser context (cookies, storage) per test.

Package scope, not session scope: Playwright's sync API leaves its asyncio loop marked as running in the main
thread while a browser is open, so the browser must be closed before the rest of the suite runs. pytest runs
this package's tests one after another, so each is still started once per session.

The tests are plain functions (Playwright's sync API), not trio tests; the server is the real child process
(tests/helpers/process.py), started and stopped with ``trio.run``. Without Chromium the browser tests fail
naming the package to install; the server's own tests (plain HTTP) still run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright

from songtrack.sandbox_demo import DEMO_EMAIL
from tests.helpers.browser import CHROMIUM_MISSING, chromium_path
from tests.helpers.process import SongtrackProcess, free_port


@dataclass(frozen=True)
class Service:
    url: str
    process: SongtrackProcess
    data_dir: Path


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``songtrack run`` on a free port with its embedded PostgreSQL in a fresh data directory."""
    root = tmp_path_factory.mktemp("browser-service")
    root.chmod(0o755)  # as root, the embedded cluster runs as an unprivileged account, which must reach it
    port = free_port()
    # Few simulated listens: the sandbox backfills today's from midnight UTC at the configured rate.
    # SONGTRACK_SCREENSHOTS is the tests' setting, not the service's: its strict config would refuse it.
    env = {**os.environ, "SONGTRACK_SIMULATORS_STREAM_RATE": "0.05"}
    env.pop("SONGTRACK_SCREENSHOTS", None)
    proc = SongtrackProcess(["run", "--data-dir", str(root / "var"), "--port", str(port)], root / "songtrack.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        trio.run(proc.start)
        trio.run(proc.wait_ready, url)
        yield Service(url, proc, root / "var")
        assert trio.run(proc.stop) == 0, proc.output
    finally:
        trio.run(proc.kill)


@pytest.fixture(scope="package")
def browser(service: Service) -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (started after the service, closed before it)."""
    executable = chromium_path()
    if executable is None:
        pytest.fail(CHROMIUM_MISSING)  # a console nobody drove is not a tested console
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, service: Service) -> Iterator[Page]:
    """A page in a new context on the service (relative URLs work); an uncaught script error fails the test."""
    context = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    errors: list[Error] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(error))  # Playwright tags the handler: no bound builtin
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture
def demo_password(service: Service) -> str:
    """The demo label's password, as `songtrack run` printed it (kept in its data directory)."""
    return (service.data_dir / "sandbox-demo-login").read_text().strip()


def sign_in_as_demo(page: Page, password: str) -> None:
    """Sign in through the form as the demo label's owner, as a person does; ends on the overview."""
    page.goto("/login")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Demo Records", level=1)).to_be_visible()
