"""Connecting provider accounts end to end: our API against the Spotify and Meta simulators over
``httpx.ASGITransport``. The browser's hops are played by hand: our 302 into the simulator, the
simulator's 302 back to our callback, which we call without a Bearer token as a browser would."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import trio
from quart.typing import TestClientProtocol as Client

from adapters.meta.simulator import MetaSimulator
from adapters.meta.simulator import SimulatorConfig as MetaConfig
from adapters.spotify.simulator.app import SpotifySimulator
from adapters.spotify.simulator.config import ClientApp
from adapters.spotify.simulator.config import SimulatorConfig as SpotifyConfig
from engine.store.database import Database
from http_api import create_app
from http_api.context import ApiContext
from http_api.integrations import integrations_router
from tests.http_api.conftest import MakeMember, Member

SPOTIFY, META = "http://spotify.test", "http://meta.test"


def _factory(app: object, base: str) -> Callable[[], httpx.AsyncClient]:
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base)  # type: ignore[arg-type]


def _spotify(ctx: ApiContext, consent: str = "approve") -> SpotifySimulator:
    callback = f"{ctx.public_url}/v1/auth/spotify/callback"
    client = ClientApp(redirect_uris=(callback,))
    return SpotifySimulator(SpotifyConfig(clients=(client,), consent=consent))  # type: ignore[arg-type]


def _client(ctx: ApiContext, spotify: SpotifySimulator | None = None, meta: MetaSimulator | None = None) -> Client:
    """The app with our router mounted on simulators (app.py may not register it yet)."""
    spotify, meta = spotify or _spotify(ctx), meta or MetaSimulator(MetaConfig())
    app = create_app(ctx)

    def http_for_host() -> httpx.AsyncClient:  # one client factory: route each host to its simulator
        mounts = {SPOTIFY: httpx.ASGITransport(spotify), META: httpx.ASGITransport(meta)}
        return httpx.AsyncClient(mounts=mounts)

    router = integrations_router(ctx, spotify_accounts_url=SPOTIFY, spotify_api_url=SPOTIFY, meta_graph_url=META,
                                 meta_dialog_url=META, http_factory=http_for_host)
    app.register_blueprint(router.blueprint)
    return app.test_client()


async def _browse(sim: object, base: str, location: str) -> str:
    """Follow our redirect into a simulator; returns where it sends the browser back to."""
    assert location.startswith(base)
    async with _factory(sim, base)() as http:
        answer = await http.get(location)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _connect_spotify(client: Client, ctx: ApiContext, sim: SpotifySimulator, member: Member) -> str:
    started = await client.get("/v1/auth/spotify/connect", headers=member.headers)
    assert started.status_code == 302
    back = await _browse(sim, SPOTIFY, started.headers["Location"])
    assert back.startswith(f"{ctx.public_url}/v1/auth/spotify/callback?")
    return _local(back)


async def test_the_spotify_flow_connects_and_seals_the_tokens(
    ctx: ApiContext, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        sim = _spotify(ctx)
        client, owner = _client(ctx, spotify=sim), await make_member()
        callback = await _connect_spotify(client, ctx, sim, owner)
        done = await client.get(callback)
        assert done.status_code == 200, await done.get_data()
        integration = (await done.get_json())["integration"]
        assert (integration["provider"], integration["status"]) == ("spotify", "connected")
        assert integration["externalAccountId"] and "accessToken" not in integration
        listed = await client.get("/v1/integrations", headers=owner.headers)
        assert [i["provider"] for i in (await listed.get_json())["integrations"]] == ["spotify"]
        alias = await client.get("/v1/auth/integrations", headers=owner.headers)
        assert (await alias.get_json()) == (await listed.get_json())
        one = await client.get("/v1/integrations/spotify", headers=owner.headers)
        assert one.status_code == 200
        raw = await db.fetchrow("SELECT access_token_sealed, refresh_token_sealed, connected_by FROM integrations")
        assert raw is not None and raw["connected_by"] == owner.user_id
        issued = [*sim.auth._access, *sim.auth._refresh]  # the simulator's own record of the tokens it minted
        sealed = raw["access_token_sealed"] + raw["refresh_token_sealed"]
        assert issued and sealed.startswith("v1:") and all(token not in sealed for token in issued)
        # The state was used: replaying the callback is refused, naming the state.
        again = await client.get(callback)
        assert again.status_code == 400
        assert "state" in str(await again.get_json())


async def test_bad_state_denied_consent_and_foreign_redirects_are_refused(
    ctx: ApiContext, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        sim = _spotify(ctx, consent="deny")
        client, owner = _client(ctx, spotify=sim), await make_member()
        denied = await client.get(await _connect_spotify(client, ctx, sim, owner))
        assert denied.status_code == 400 and "declined" in (await denied.get_json())["error"]["message"]
        forged = await client.get("/v1/auth/spotify/callback?code=x&state=forged")
        assert forged.status_code == 400 and "state" in str(await forged.get_json())
        foreign = await client.get("/v1/auth/spotify/connect?redirect_uri=https://evil.example/cb",
                                   headers=owner.headers)
        assert foreign.status_code == 400
        own = f"{ctx.public_url}/v1/auth/spotify/callback"
        ok = await client.get("/v1/auth/spotify/connect", query_string={"redirect_uri": own}, headers=owner.headers)
        assert ok.status_code == 302


async def test_the_meta_flow_exchanges_for_a_long_lived_token(ctx: ApiContext, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        sim = MetaSimulator(MetaConfig())
        client, owner = _client(ctx, meta=sim), await make_member()
        started = await client.get("/v1/auth/meta/connect", headers=owner.headers)
        assert started.status_code == 302
        back = await _browse(sim, META, started.headers["Location"])
        assert parse_qs(urlsplit(back).query)["state"]
        done = await client.get(_local(back))
        assert done.status_code == 200, await done.get_data()
        integration = (await done.get_json())["integration"]
        assert (integration["provider"], integration["status"]) == ("meta", "connected")
        assert integration["tokenExpiresAt"] is not None
        assert (await client.get(_local(back))).status_code == 400  # single use
        tampered = _local(back).replace("state=", "state=x")
        assert (await client.get(tampered)).status_code == 400


async def test_org_scoping_and_roles(ctx: ApiContext, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        sim = _spotify(ctx)
        client, owner = _client(ctx, spotify=sim), await make_member()
        assert (await client.get(await _connect_spotify(client, ctx, sim, owner))).status_code == 200
        stranger = await make_member()
        listed = await client.get("/v1/integrations", headers=stranger.headers)
        assert (await listed.get_json())["integrations"] == []
        assert (await client.get("/v1/integrations/spotify", headers=stranger.headers)).status_code == 404
        assert (await client.delete("/v1/auth/integrations/spotify", headers=stranger.headers)).status_code == 404
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        assert (await client.get("/v1/integrations", headers=viewer.headers)).status_code == 200
        assert (await client.get("/v1/auth/spotify/connect", headers=viewer.headers)).status_code == 403
        assert (await client.get("/v1/auth/meta/connect", headers=viewer.headers)).status_code == 403
        assert (await client.delete("/v1/auth/integrations/spotify", headers=viewer.headers)).status_code == 403
        assert (await client.get("/v1/integrations/tiktok", headers=owner.headers)).status_code == 404
        assert (await client.delete("/v1/auth/integrations/spotify", headers=owner.headers)).status_code == 204
        assert (await client.delete("/v1/auth/integrations/spotify", headers=owner.headers)).status_code == 404
        assert (await client.get("/v1/auth/spotify/connect")).status_code == 401

