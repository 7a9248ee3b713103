"""Connecting provider accounts end to end: our API against the Spotify and Meta simulators over
``httpx.ASGITransport``. The browser's hops are played by hand: our 302 into the simulator, the
simulator's 302 back to our callback, which we call without a Bearer token as a browser would.
An account's ``poller`` is arranged through the store (``nodes.publish_actors``), not by running actors."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import trio
from quart.typing import TestClientProtocol as Client

from engine.registry import ActorState, Registry
from engine.store import integrations as store
from engine.store import nodes
from engine.store.database import Database
from http_api.context import ApiContext
from tests.helpers.factories import connect_integration
from tests.http_api.conftest import MakeMember, Simulators, spotify_simulator
from tests.http_api.connect import callback_for


async def test_the_spotify_flow_connects_and_seals_the_tokens(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        sim, owner = simulators.spotify, await make_member()
        callback = await callback_for(client, simulators, "spotify", owner)
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
    client: Client, ctx: ApiContext, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        simulators.spotify = spotify_simulator(consent="deny")
        owner = await make_member()
        denied = await client.get(await callback_for(client, simulators, "spotify", owner))
        assert denied.status_code == 400 and "declined" in (await denied.get_json())["error"]["message"]
        forged = await client.get("/v1/auth/spotify/callback?code=x&state=forged")
        assert forged.status_code == 400 and "state" in str(await forged.get_json())
        foreign = await client.get("/v1/auth/spotify/connect?redirect_uri=https://evil.example/cb",
                                   headers=owner.headers)
        assert foreign.status_code == 400
        own = f"{ctx.public_url}/v1/auth/spotify/callback"
        ok = await client.get("/v1/auth/spotify/connect", query_string={"redirect_uri": own}, headers=owner.headers)
        assert ok.status_code == 302


async def test_the_meta_flow_exchanges_for_a_long_lived_token(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        back = await callback_for(client, simulators, "meta", owner)
        assert parse_qs(urlsplit(back).query)["state"]
        done = await client.get(back)
        assert done.status_code == 200, await done.get_data()
        integration = (await done.get_json())["integration"]
        assert (integration["provider"], integration["status"]) == ("meta", "connected")
        assert integration["tokenExpiresAt"] is not None
        assert (await client.get(back)).status_code == 400  # single use
        tampered = back.replace("state=", "state=x")
        assert (await client.get(tampered)).status_code == 400


async def test_org_scoping_and_roles(client: Client, simulators: Simulators, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        assert (await client.get(await callback_for(client, simulators, "spotify", owner))).status_code == 200
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
        gone = await client.delete("/v1/auth/integrations/spotify", headers=owner.headers)
        assert gone.status_code == 200 and await gone.get_json() == {"provider": "spotify", "accounts": 1}
        assert (await client.delete("/v1/auth/integrations/spotify", headers=owner.headers)).status_code == 404
        assert (await client.get("/v1/auth/spotify/connect")).status_code == 401



async def test_each_integration_shows_its_poller_as_its_actor_published_it(
    client: Client, ctx: ApiContext, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()

        async def connect(provider: store.Provider) -> store.Integration:
            return await connect_integration(db, owner.org_id, provider=provider, account="1",
                                             key=ctx.keys.token_encryption_key, display_name=provider,
                                             access_token=f"{provider}-ACCESS-SECRET")

        meta, _ = await connect("meta"), await connect("spotify")

        async def pollers() -> dict[str, object]:
            listed = await client.get("/v1/integrations", headers=owner.headers)
            assert b"ACCESS-SECRET" not in await listed.get_data()
            return {i["provider"]: i["poller"] for i in (await listed.get_json())["integrations"]}

        assert await pollers() == {"meta": None, "spotify": None}  # no engine runs an actor for them
        registry, name = Registry(), f"meta:{meta.id}"
        registry.set_detail(name, {"state": "waiting", "next_poll_at": "2026-11-22T19:10:00+00:00",
                                   "parked_until": None, "last_success_at": "2026-11-22T19:09:00+00:00",
                                   "last_error": None, "consecutive_failures": 0, "ad_accounts": 1})
        node = await nodes.register_node(db)
        await nodes.publish_actors(db, node, registry.snapshot())
        waiting = {"state": "waiting", "nextPollAt": "2026-11-22T19:10:00Z", "lastSuccessAt": "2026-11-22T19:09:00Z",
                   "lastError": None, "consecutiveFailures": 0, "parkedUntil": None}
        assert await pollers() == {"meta": waiting, "spotify": None}
        one = await client.get("/v1/integrations/meta", headers=owner.headers)
        assert (await one.get_json())["integration"]["poller"] == waiting
        spotify = await client.get("/v1/integrations/spotify", headers=owner.headers)
        assert (await spotify.get_json())["integration"]["poller"] is None
        # A crash the actor could not report itself: the supervisor's view wins over its stale detail.
        restart = datetime(2026, 11, 22, 19, 11, tzinfo=UTC)
        registry.update(name, ActorState.BACKING_OFF, restarts=1, last_error="RuntimeError: boom",
                        next_restart_at=restart)
        await nodes.publish_actors(db, node, registry.snapshot())
        assert (await pollers())["meta"] == waiting | {
            "state": "backing_off", "nextPollAt": "2026-11-22T19:11:00Z", "lastError": "RuntimeError: boom"}
        await nodes.mark_node_stopped(db, node)
        assert await pollers() == {"meta": None, "spotify": None}
        stranger = await make_member()
        assert (await (await client.get("/v1/integrations", headers=stranger.headers)).get_json()) == {
            "integrations": [], "pagination": {"total": 0, "limit": 20, "offset": 0, "hasNext": False}}


async def test_a_spotify_label_account_shows_its_poller(
    client: Client, ctx: ApiContext, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        spotify = await connect_integration(db, owner.org_id, provider="spotify", account="label",
                                            key=ctx.keys.token_encryption_key, access_token="SPOTIFY-ACCESS-SECRET")
        registry = Registry()
        registry.set_detail(f"spotify:{spotify.id}", {
            "state": "needs_reauth", "next_poll_at": None, "parked_until": None,
            "last_success_at": "2026-11-22T13:00:00+00:00", "last_error": "ReauthRequiredError: invalid_grant",
            "consecutive_failures": 0, "tracks": 3})
        node = await nodes.register_node(db)
        await nodes.publish_actors(db, node, registry.snapshot())
        listed = await client.get("/v1/integrations", headers=owner.headers)
        assert b"ACCESS-SECRET" not in await listed.get_data()
        [out] = (await listed.get_json())["integrations"]
        assert out["poller"] == {"state": "needs_reauth", "nextPollAt": None, "lastSuccessAt": "2026-11-22T13:00:00Z",
                                 "lastError": "ReauthRequiredError: invalid_grant", "consecutiveFailures": 0,
                                 "parkedUntil": None}
        one = await client.get("/v1/integrations/spotify", headers=owner.headers)
        assert (await one.get_json())["integration"]["poller"] == out["poller"]
