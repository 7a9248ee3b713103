"""The console served by real hypercorn on 127.0.0.1:<free port>, on a real per-test database, in real
time, and a browser without JavaScript: an httpx client that keeps cookies and follows no redirect by
itself. The auth limit is 3 failures, so the limit's test stays short."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from config import Settings, load, load_or_create_keys
from engine.passwords import hash_password
from engine.store import accounts
from engine.store.database import Database
from engine.store.migrate import discover
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from http_api.context import ApiContext
from songtrack.api import build_api
from tests.helpers.factories import create_member, create_owner, create_session
from tests.http_api.conftest import Simulators
from tests.http_api.connect import local

PASSWORD = "correct horse battery staple"
_HASH: list[str] = []  # one argon2id hash for every test: hashing per test would be slow


@dataclass(frozen=True)
class Console:
    ctx: ApiContext
    db: Database
    browser: httpx.AsyncClient
    user: accounts.User
    org: accounts.Organization

    async def sign_in(self, password: str = PASSWORD, next_path: str = "/app") -> httpx.Response:
        """Open the sign-in form and submit it, as a person does."""
        form = await self.browser.get("/login")
        return await self.browser.post("/login", data={
            "csrf_token": csrf_of(form.text), "email": self.user.email, "password": password, "next": next_path})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


@pytest.fixture
async def console(db: Database, tmp_path: Path) -> AsyncIterator[Console]:
    ctx = ApiContext(lambda: db, discover(), load({"SONGTRACK_AUTH_ATTEMPTS": "3"}),
                     load_or_create_keys(tmp_path / "data"))
    async with open_console(db, ctx) as opened:
        yield opened


@asynccontextmanager
async def open_console(db: Database, ctx: ApiContext) -> AsyncIterator[Console]:
    """The service on ``ctx`` served on a free port, with its owner and a cookie-keeping client."""
    if not _HASH:
        _HASH.append(await hash_password(PASSWORD))
    org, user = await create_owner(db, f"owner-{uuid.uuid4().hex[:8]}@example.com", org_name="Moonlit Records",
                                   name="Ada Owner", password_hash=_HASH[0])
    stop = trio.Event()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(build_api(ctx).serve, "127.0.0.1:0", stop.wait)
            async with httpx.AsyncClient(base_url=urls[0], timeout=10) as browser:
                yield Console(ctx, db, browser, user, org)
            stop.set()


@pytest.fixture
async def provider_console(db: Database, tmp_path: Path, settings: Settings,
                           simulators: Simulators) -> AsyncIterator[Console]:
    """The console with Meta and Spotify configured as in sandbox mode, their simulators in-process."""
    ctx = ApiContext(lambda: db, discover(), settings, load_or_create_keys(tmp_path / "data"),
                     http_factory=lambda: simulators.http())
    async with open_console(db, ctx) as opened:
        yield opened


async def connect_in_console(console: Console, simulators: Simulators, provider: str) -> None:
    """Connect ``provider`` as a person does on the integrations page: "Connect", the simulator's dialog, our
    callback, back on the page."""
    page = await console.browser.get("/app/integrations")
    started = await console.browser.post(f"/app/integrations/{provider}/connect",
                                         data={"csrf_token": csrf_of(page.text)})
    assert started.status_code == 303, started.text
    async with simulators.browser(provider) as dialog:
        answer = await dialog.get(started.headers["location"])
    assert answer.status_code == 302, answer.text
    landed = await console.browser.get(local(answer.headers["location"]))
    assert landed.status_code == 303 and landed.headers["location"] == "/app/integrations", landed.text


async def sign_in_as_member(console: Console, role: str) -> None:
    """Sign the console's browser in as a new member of its organization with ``role`` (a cookie of a real
    session row, as the sign-in form sets it)."""
    member = await create_member(console.db, console.org.id, f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                                 role)  # type: ignore[arg-type]
    session, _ = await create_session(console.db, member)
    console.browser.cookies.set(SESSION_COOKIE, session_cookie(console.ctx.keys, session.id, member.id))
