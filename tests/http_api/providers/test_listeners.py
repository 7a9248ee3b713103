"""The listener opt-in end to end: a member's public link, a fan's browser through the Spotify simulator
and back to our callback, and the campaign's listener list.

Rules: the fan's hops are played by hand (our 302 into the simulator's /authorize, its 302 back to our
callback, called without a Bearer token); which simulated user consents is the sandbox's ``sim_user``.
Every test runs under a deadline on the trio clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import trio
from quart.typing import TestClientProtocol as Client

from engine.store import listeners as store
from engine.store.database import Database
from http_api.context import ApiContext
from tests.helpers.factories import create_campaign
from tests.http_api.conftest import PUBLIC_URL, MakeMember, Simulators, spotify_simulator
from tests.http_api.connect import local
from tests.http_api.listen import fan_callback, listen_link

RUNNING = datetime(2027, 1, 1, tzinfo=UTC)  # a campaign running at the API's clock (EPOCH)


async def _page(response: Any) -> str:
    assert response.headers["Content-Type"].startswith("text/html")
    text: str = (await response.get_data()).decode()
    return text


async def test_a_fan_opts_in_and_is_listed_once(
    client: Client, simulators: Simulators, db: Database, ctx: ApiContext, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, name="<Summer> & single", start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        assert link["url"] == f"{PUBLIC_URL}/v1/listen/{link['token']}" and link["createdAt"]
        again = await client.post(f"/v1/campaigns/{campaign_id}/listen-link", headers=owner.headers)
        assert again.status_code == 200 and (await again.get_json()) == link
        done = await client.get(await fan_callback(client, simulators, link, "fan0001"))
        assert done.status_code == 200
        page = await _page(done)
        assert "connected" in page and "Fan 1" in page and "&lt;Summer&gt; &amp; single" in page
        listed = await client.get(f"/v1/campaigns/{campaign_id}/listeners", headers=owner.headers)
        body = await listed.get_json()
        assert body["pagination"] == {"total": 1, "limit": 20, "offset": 0, "hasNext": False}
        (fan,) = body["listeners"]
        assert (fan["spotifyUserId"], fan["displayName"], fan["status"]) == ("fan0001", "Fan 1", "connected")
        # Opting in again refreshes the tokens but keeps the first opt-in time and one listing.
        assert (await client.get(await fan_callback(client, simulators, link, "fan0001"))).status_code == 200
        relisted = (await (await client.get(f"/v1/campaigns/{campaign_id}/listeners",
                                            headers=owner.headers)).get_json())["listeners"]
        assert relisted == [fan]
        tokens = await store.listener_tokens(db, ctx.keys.token_encryption_key, owner.org_id, uuid.UUID(fan["id"]))
        raw = await db.fetchrow("SELECT access_token_sealed FROM listener_accounts")
        assert tokens is not None and raw is not None
        assert tokens.access_token in simulators.spotify.auth._access and tokens.access_token not in raw[0]
        assert tokens.refresh_token is not None


async def test_a_revoked_link_is_gone_and_a_new_one_has_a_new_token(
    client: Client, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        path = f"/v1/campaigns/{campaign_id}/listen-link"
        assert (await client.delete(path, headers=owner.headers)).status_code == 204
        assert (await client.delete(path, headers=owner.headers)).status_code == 404
        gone = await client.get(local(link["url"]))
        assert gone.status_code == 404 and "not exist" in await _page(gone)
        fresh = await client.post(path, headers=owner.headers)
        assert fresh.status_code == 201 and (await fresh.get_json())["token"] != link["token"]
        assert (await client.get("/v1/listen/forged-token")).status_code == 404
        assert (await client.get("/v1/listen/%00")).status_code == 404


async def test_an_ended_campaign_takes_no_more_fans(client: Client, db: Database, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        await db.execute("UPDATE campaigns SET status = 'completed' WHERE id = $1", campaign_id)
        ended = await client.get(local(link["url"]))
        assert ended.status_code == 410 and "ended" in await _page(ended)


async def test_denied_consent_and_a_reused_state_connect_nothing(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        callback = await fan_callback(client, simulators, link, "fan0002")
        assert (await client.get(callback)).status_code == 200
        reused = await client.get(callback)
        assert reused.status_code == 400 and "Nothing was connected" in await _page(reused)
        simulators.spotify = spotify_simulator(consent="deny")
        denied = await client.get(await fan_callback(client, simulators, link, "fan0002"))
        assert denied.status_code == 400 and "declined" in await _page(denied)
        forged = await client.get("/v1/listen/callback?code=x&state=forged")
        assert forged.status_code == 400 and "Nothing was connected" in await _page(forged)
        listed = await client.get(f"/v1/campaigns/{campaign_id}/listeners", headers=owner.headers)
        assert (await listed.get_json())["pagination"]["total"] == 1


async def test_states_do_not_cross_between_connect_and_opt_in(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        link = await listen_link(client, owner, await create_campaign(db, owner.org_id, start=RUNNING))
        fan_back = await fan_callback(client, simulators, link, "fan0003")
        # A fan's state at the members' connect callback would connect the fan as the label's account.
        hijack = await client.get(fan_back.replace("/v1/listen/callback", "/v1/auth/spotify/callback"))
        assert hijack.status_code == 400
        assert (await client.get("/v1/integrations", headers=owner.headers)).status_code == 200
        assert (await (await client.get("/v1/integrations", headers=owner.headers)).get_json())["integrations"] == []


async def test_a_fan_outside_the_development_allowlist_is_told_why(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        simulators.spotify = spotify_simulator(mode="development")
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        refused = await client.get(await fan_callback(client, simulators, link, "fan0009"))
        assert refused.status_code == 403 and "development mode" in await _page(refused)
        allowed = await client.get(await fan_callback(client, simulators, link, "fan0002"))
        assert allowed.status_code == 200
        listed = await client.get(f"/v1/campaigns/{campaign_id}/listeners", headers=owner.headers)
        assert [f["spotifyUserId"] for f in (await listed.get_json())["listeners"]] == ["fan0002"]


async def test_listeners_are_scoped_to_the_organization_and_roles(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        campaign_id = await create_campaign(db, owner.org_id, start=RUNNING)
        link = await listen_link(client, owner, campaign_id)
        assert (await client.get(await fan_callback(client, simulators, link, "fan0001"))).status_code == 200
        listeners_path = f"/v1/campaigns/{campaign_id}/listeners"
        fan_id = (await (await client.get(listeners_path, headers=owner.headers)).get_json())["listeners"][0]["id"]
        stranger = await make_member()
        assert (await client.get(listeners_path, headers=stranger.headers)).status_code == 404
        assert (await client.post(f"/v1/campaigns/{campaign_id}/listen-link",
                                  headers=stranger.headers)).status_code == 404
        assert (await client.delete(f"{listeners_path}/{fan_id}", headers=stranger.headers)).status_code == 404
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        assert (await client.get(listeners_path, headers=viewer.headers)).status_code == 200
        assert (await client.post(f"/v1/campaigns/{campaign_id}/listen-link",
                                  headers=viewer.headers)).status_code == 403
        assert (await client.delete(f"{listeners_path}/{fan_id}", headers=viewer.headers)).status_code == 403
        assert (await client.get(listeners_path)).status_code == 401
        assert (await client.delete(f"{listeners_path}/{fan_id}", headers=owner.headers)).status_code == 204
        assert (await client.delete(f"{listeners_path}/{fan_id}", headers=owner.headers)).status_code == 404
        listed = await client.get(listeners_path, headers=owner.headers)
        assert (await listed.get_json())["listeners"] == []
        # On no campaign any more, the fan's account and tokens are gone.
        assert await db.fetchval("SELECT count(*) FROM listener_accounts") == 0
