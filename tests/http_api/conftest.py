"""Fixtures for the HTTP API: the app on a real per-test database, Quart's test
client, and members of organizations with real sessions and access tokens.

The API's wall clock is driven by trio's MockClock (``mock_clock.jump(s)``), so
token expiry and rate-limit windows are tested without sleeping. The auth
brute-force limit is raised here; the tests of that limit set their own.

Meta and Spotify are the real simulators, reached over HTTP semantics through
``httpx.ASGITransport`` at META_URL and SPOTIFY_URL (the ``simulators`` fixture),
configured as ``songtrack run`` configures them in sandbox mode.

The app is built as every process that serves the API builds it (``songtrack.api.build_api``: a real
LiveHub and a real job runner); ``serving(api)`` runs it as that process does.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from adapters.meta.simulator import MetaSimulator
from adapters.meta.simulator import SimulatorConfig as MetaConfig
from adapters.spotify.simulator import ClientApp, SpotifySimulator
from adapters.spotify.simulator import SimulatorConfig as SpotifyConfig
from config import Keys, Settings, load, load_or_create_keys
from engine.passwords import hash_password
from engine.store import accounts
from engine.store.database import Database
from engine.store.migrate import discover
from http_api.context import ApiContext
from http_api.providers.integrations import spotify_redirect_uris
from songtrack.api import Api, build_api
from tests.helpers.factories import create_member, create_owner, create_session

# One real argon2id hash, made once: hashing per fixture user would make the suite crawl.
PASSWORD = "correct horse battery staple"
_HASH: list[str] = []
_counter = itertools.count()

# MockClock starts at 0; the API's wall clock is this plus trio's clock.
EPOCH = 1_800_000_000.0
META_URL, SPOTIFY_URL = "http://meta.test", "http://spotify.test"
PUBLIC_URL = "http://127.0.0.1:3000"  # the default server.public_url


@pytest.fixture
def settings() -> Settings:
    meta, spotify = MetaConfig(), ClientApp()
    return load({"SONGTRACK_AUTH_ATTEMPTS": "10000", "SONGTRACK_SANDBOX": "on",
                 "SONGTRACK_META_APP_ID": meta.app_id, "SONGTRACK_META_APP_SECRET": meta.app_secret,
                 "SONGTRACK_META_GRAPH_URL": META_URL, "SONGTRACK_META_DIALOG_URL": META_URL,
                 "SONGTRACK_SPOTIFY_CLIENT_ID": spotify.client_id, "SONGTRACK_SPOTIFY_ACCOUNTS_URL": SPOTIFY_URL,
                 "SONGTRACK_SPOTIFY_API_URL": SPOTIFY_URL})


@dataclass
class Simulators:
    """The provider simulators the API of a test talks to (replace them before building the ctx)."""

    meta: MetaSimulator
    spotify: SpotifySimulator

    def http(self) -> httpx.AsyncClient:
        """A client that routes each provider's host to its simulator, as ``ApiContext.http_factory``."""
        return httpx.AsyncClient(mounts={META_URL: httpx.ASGITransport(self.meta),  # type: ignore[arg-type]
                                         SPOTIFY_URL: httpx.ASGITransport(self.spotify)})  # type: ignore[arg-type]

    def browser(self, provider: str) -> httpx.AsyncClient:
        """A client for the hops a person's browser makes into a simulator (login dialogs)."""
        app, base = (self.meta, META_URL) if provider == "meta" else (self.spotify, SPOTIFY_URL)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base)  # type: ignore[arg-type]


def spotify_simulator(**config: object) -> SpotifySimulator:
    """A Spotify simulator whose app accepts this service's redirect URIs, its clock on the API's."""
    client = ClientApp(redirect_uris=spotify_redirect_uris(PUBLIC_URL))
    start = datetime.fromtimestamp(EPOCH, UTC)
    return SpotifySimulator(SpotifyConfig(clients=(client,), start=start, **config))  # type: ignore[arg-type]


def meta_simulator(**config: object) -> MetaSimulator:
    """A Meta simulator whose clock reads what the API's does (both start at EPOCH on trio time)."""
    start = datetime.fromtimestamp(EPOCH, UTC).isoformat()
    return MetaSimulator(MetaConfig(start=start, **config))  # type: ignore[arg-type]


@pytest.fixture
def simulators() -> Simulators:
    return Simulators(meta_simulator(), spotify_simulator())


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return load_or_create_keys(tmp_path / "data")


@pytest.fixture
def ctx(db: Database, settings: Settings, keys: Keys, mock_clock: trio.testing.MockClock,
        simulators: Simulators) -> ApiContext:
    # The simulators are looked up per request, so a test may swap one after the ctx is built.
    return ApiContext(lambda: db, discover(), settings, keys, now=lambda: EPOCH + trio.current_time(),
                      http_factory=lambda: simulators.http())


@pytest.fixture
def api(ctx: ApiContext) -> Api:
    return build_api(ctx)


@pytest.fixture
def app(api: Api) -> QuartTrio:
    return api.app


@asynccontextmanager
async def serving(api: Api) -> AsyncIterator[None]:
    """The app's lifespan with its services running, as a process that serves the API runs them (routes that
    start jobs need it). Leaving the block ends serving, then stops the services: it waits for the running
    jobs (``actors.jobs.GRACE`` on the trio clock, which MockClock does not move)."""
    async with api.services.running(), api.app.test_app():
        yield


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    session_id: uuid.UUID
    refresh_token: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeMember = Callable[..., Awaitable[Member]]


@pytest.fixture
def make_member(db: Database, ctx: ApiContext) -> MakeMember:
    """``await make_member()``: the owner of a new organization; ``make_member(org_id=o, role="viewer")``
    adds a member to an existing one (through a real invitation)."""

    async def make(*, org_id: uuid.UUID | None = None, role: str = "owner") -> Member:
        if not _HASH:
            _HASH.append(await hash_password(PASSWORD))
        email = f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
        if org_id is None:
            org, user = await create_owner(db, email, org_name=f"Label {email}", name="Test User",
                                           password_hash=_HASH[0])
            org_id = org.id
        else:
            user = await create_member(db, org_id, email, "member" if role == "owner" else role,  # type: ignore[arg-type]
                                       name="Test User", password_hash=_HASH[0])
            if role == "owner":
                await accounts.set_member_role(db, org_id, user.id, "owner")
        session, refresh = await create_session(db, user, org_id=org_id, ttl=timedelta(days=7), user_agent="tests",
                                                ip=None)
        token = ctx.tokens.mint(user_id=user.id, org_id=org_id, role=role, session_id=session.id)
        return Member(user.id, org_id, email, role, session.id, refresh, token)

    return make
