"""CORS (``[server] cors_origins``): a page on a listed origin may call the API's routes and read the
headers a client needs; any other origin gets no CORS headers, credentials are never allowed, and the
console's pages get none at all. Real hypercorn on 127.0.0.1, a real per-test database, real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from config import load, load_or_create_keys
from engine.store.database import Database
from engine.store.migrate import discover
from http_api.context import ApiContext
from tests.helpers.factories import create_session
from tests.http_api.console.conftest import Console, open_console

DASH = "https://dash.example.com"
PREFLIGHT = {"Origin": DASH, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
async def served(db: Database, tmp_path: Path) -> AsyncIterator[Console]:
    settings = load({"SONGTRACK_SERVER_CORS_ORIGINS": f"{DASH}, https://other.example.com"})
    ctx = ApiContext(lambda: db, discover(), settings, load_or_create_keys(tmp_path / "data"))
    async with open_console(db, ctx) as console:
        yield console


def _cors(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


async def test_a_preflight_from_a_listed_origin_is_answered(served: Console) -> None:
    answer = await served.browser.options("/v1/tracks", headers=PREFLIGHT)
    assert answer.status_code == 200
    headers = _cors(answer)
    assert headers["access-control-allow-origin"] == DASH
    assert "POST" in headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 headers["access-control-allow-headers"].split(",")}
    assert "access-control-allow-credentials" not in headers


async def test_another_origin_gets_no_cors_headers(served: Console) -> None:
    answer = await served.browser.options("/v1/tracks", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert _cors(answer) == {}
    actual = await served.browser.get("/health/live", headers={"Origin": "https://evil.example"})
    assert _cors(actual) == {}


async def test_an_answer_exposes_the_request_id_quota_retry_and_location_headers(served: Console) -> None:
    session, _ = await create_session(served.db, served.user)
    token = served.ctx.tokens.mint(user_id=served.user.id, org_id=served.org.id, role="owner", session_id=session.id)
    created = await served.browser.post("/v1/tracks", json={"title": "Night Drive", "artist": "Moonlit"},
                                        headers={"Origin": DASH, "Authorization": f"Bearer {token}"})
    assert created.status_code == 201 and "X-RateLimit-Remaining" in created.headers
    headers = _cors(created)
    assert headers["access-control-allow-origin"] == DASH and "access-control-allow-credentials" not in headers
    exposed = {name.strip().lower() for name in headers["access-control-expose-headers"].split(",")}
    assert exposed == {"x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                       "retry-after", "location"}
    refused = await served.browser.get("/v1/tracks", headers={"Origin": DASH})  # an error answer too
    assert refused.status_code == 401 and _cors(refused)["access-control-allow-origin"] == DASH


@pytest.mark.parametrize("path", ["/", "/login", "/app", "/signup"])
async def test_the_console_gets_no_cors_headers(served: Console, path: str) -> None:
    page = await served.browser.get(path, headers={"Origin": DASH})
    preflight = await served.browser.options(path, headers=PREFLIGHT)
    assert _cors(page) == {} and _cors(preflight) == {}


async def test_without_origins_nothing_is_allowed(db: Database, tmp_path: Path) -> None:
    ctx = ApiContext(lambda: db, discover(), load({}), load_or_create_keys(tmp_path / "data"))
    async with open_console(db, ctx) as console:
        answer = await console.browser.options("/v1/tracks", headers=PREFLIGHT)
    assert _cors(answer) == {}
