"""The console's integrations page against the Meta and Spotify simulators (over ``httpx.ASGITransport``,
as the API's own tests wire them): what it shows of each account and its actor, the console's OAuth start
from a cookie session and the callback that lands back on the page, and the sync button. The browser's hops
into a simulator's dialog are played by hand, as ``tests/http_api/connect.py`` plays them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import trio

from engine.registry import Registry
from engine.store import nodes
from tests.helpers.factories import connect_integration
from tests.http_api.conftest import PUBLIC_URL, Simulators, spotify_simulator
from tests.http_api.connect import local
from tests.http_api.console.conftest import Console, csrf_of


@pytest.fixture
def console(provider_console: Console) -> Console:
    """The console with Meta and Spotify configured as in sandbox mode, their simulators in-process."""
    return provider_console


async def _page(console: Console) -> str:
    answer = await console.browser.get("/app/integrations")
    assert answer.status_code == 200, answer.text
    return answer.text


async def _through_dialog(console: Console, simulators: Simulators, provider: str) -> str:
    """Press "Connect", pass the simulator's dialog; returns our callback (path and query)."""
    started = await console.browser.post(f"/app/integrations/{provider}/connect",
                                         data={"csrf_token": csrf_of(await _page(console))})
    assert started.status_code == 303, started.text
    assert parse_qs(urlsplit(started.headers["location"]).query)["state"]
    async with simulators.browser(provider) as dialog:
        answer = await dialog.get(started.headers["location"])
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(f"{PUBLIC_URL}/v1/auth/{provider}/callback?")
    return local(answer.headers["location"])


async def test_the_page_shows_each_account_and_its_actor_in_utc(console: Console) -> None:
    with trio.fail_after(20):
        meta = await connect_integration(console.db, console.org.id, provider="meta", display_name="Moonlit Ads",
                                         account="1001", scopes=("ads_read", "ads_management"),
                                         key=console.ctx.keys.token_encryption_key)
        registry, node = Registry(), await nodes.register_node(console.db)
        registry.set_detail(f"meta:{meta.id}", {
            "state": "waiting", "next_poll_at": "2026-11-22T19:10:00+00:00", "parked_until": None,
            "last_success_at": "2026-11-22T19:09:00+00:00", "last_error": "Meta: rate limited",
            "consecutive_failures": 2})
        await nodes.publish_actors(console.db, node, registry.snapshot())
        await console.sign_in()
        page = await _page(console)
        assert "Connected" in page and "Moonlit Ads (1001)" in page and "ads_read, ads_management" in page
        assert "Running: waiting for its next poll" in page and "2026-11-22 19:10:00 UTC" in page
        assert "2026-11-22 19:09:00 UTC" in page and "Meta: rate limited" in page and "(2 in a row)" in page
        assert "Reconnect Meta" in page and "Sync Meta now" in page
        assert "Not connected." in page and "Connect Spotify" in page and "Sync Spotify now" not in page
        assert 'aria-current="page">Integrations' in page


async def test_signed_out_the_page_and_its_buttons_send_to_sign_in(console: Console) -> None:
    page = await console.browser.get("/app/integrations")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/app/integrations"
    start = await console.browser.post("/app/integrations/spotify/connect", data={"csrf_token": "x"})
    assert start.status_code == 303 and start.headers["location"].startswith("/login")


async def test_connecting_from_the_console_lands_back_on_the_page(console: Console,
                                                                  simulators: Simulators) -> None:
    with trio.fail_after(30):
        await console.sign_in()
        landed = await console.browser.get(await _through_dialog(console, simulators, "spotify"))
        assert landed.status_code == 303 and landed.headers["location"] == "/app/integrations"
        page = await _page(console)
        assert "Spotify is connected:" in page and "Reconnect Spotify" in page
        assert "Spotify is connected:" not in await _page(console)  # the message shows once
        assert (await console.db.fetchval("SELECT count(*) FROM integrations WHERE provider = 'spotify'")) == 1
        meta = await console.browser.get(await _through_dialog(console, simulators, "meta"))
        assert meta.status_code == 303 and "Meta is connected:" in await _page(console)


async def test_a_refused_consent_lands_on_the_page_with_the_reason(console: Console,
                                                                   simulators: Simulators) -> None:
    with trio.fail_after(30):
        simulators.spotify = spotify_simulator(consent="deny")
        await console.sign_in()
        landed = await console.browser.get(await _through_dialog(console, simulators, "spotify"))
        assert landed.status_code == 303 and landed.headers["location"] == "/app/integrations"
        page = await _page(console)
        assert "Spotify was not connected: the provider did not grant access: the user declined access" in page
        assert "Not connected." in page


async def test_a_callback_the_console_did_not_start_answers_json(console: Console) -> None:
    answer = await console.browser.get("/v1/auth/spotify/callback?code=x&state=forged")
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/json")


async def test_sync_now_starts_the_api_sync_and_shows_its_run(console: Console) -> None:
    with trio.fail_after(30):
        await connect_integration(console.db, console.org.id, provider="meta",
                                  key=console.ctx.keys.token_encryption_key)
        await console.sign_in()
        started = await console.browser.post("/app/integrations/meta/sync",
                                             data={"csrf_token": csrf_of(await _page(console))})
        assert started.status_code == 303 and started.headers["location"] == "/app/integrations"
        page = await _page(console)
        assert "The Meta sync has started." in page and "Latest sync:" in page
        line = (await console.browser.get("/app/integrations/meta/sync-status")).text
        assert line.lstrip().startswith('<p class="sync" role="status" id="sync-meta"') and "Latest sync:" in line
        runs = await console.db.fetchval("SELECT count(*) FROM sync_runs WHERE organization_id = $1", console.org.id)
        assert runs == 1
        not_connected = await console.browser.post("/app/integrations/spotify/sync", data={"csrf_token": csrf_of(page)})
        assert not_connected.status_code == 303
        assert "The Spotify sync did not start: no Spotify account is connected" in await _page(console)


async def test_buttons_without_the_csrf_token_change_nothing(console: Console) -> None:
    with trio.fail_after(20):
        await connect_integration(console.db, console.org.id, provider="meta",
                                  key=console.ctx.keys.token_encryption_key)
        await console.sign_in()
        for path in ("/app/integrations/meta/sync", "/app/integrations/spotify/connect"):
            refused = await console.browser.post(path, data={})
            assert refused.status_code == 403 and "Nothing was changed" in refused.text
        assert await console.db.fetchval("SELECT count(*) FROM sync_runs") == 0
        assert await console.db.fetchval("SELECT count(*) FROM oauth_states") == 0
        unknown = await console.browser.post("/app/integrations/tiktok/connect",
                                             data={"csrf_token": csrf_of(await _page(console))})
        assert unknown.status_code == 404
