"""Sync runs end to end: the POST answers 202 at once, the work runs in the API's job runner against the
simulators, and the status route reports how it went.

Rules: a POST that starts work is made inside ``async with serving(api)``, which runs the app's lifespan
and its job runner; leaving the block waits for the running jobs (the runner lets them finish within
``actors.jobs.GRACE`` on the trio clock, which MockClock does not move). Every test
runs under a deadline on the trio clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import trio
from quart.typing import TestClientProtocol as Client

from adapters.spotify.simulator.config import FaultConfig
from engine.store.database import Database
from songtrack.api import Api
from tests.helpers.factories import create_campaign, create_track
from tests.http_api.conftest import MakeMember, Member, Simulators, serving
from tests.http_api.connect import connect

RUNNING = datetime(2027, 1, 1, tzinfo=UTC)  # a campaign running at the API's clock (EPOCH)


async def _sync(api: Api, client: Client, member: Member, provider: str) -> dict[str, Any]:
    async with serving(api):
        started = await client.post(f"/v1/integrations/{provider}/sync", headers=member.headers)
        assert started.status_code == 202, await started.get_data()
        assert started.headers["Location"] == f"/v1/integrations/{provider}/sync/status"
        run: dict[str, Any] = (await started.get_json())["run"]
        assert (run["provider"], run["status"], run["finishedAt"]) == (provider, "running", None)
    return run


async def _status(client: Client, member: Member, provider: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/integrations/{provider}/sync/status", headers=member.headers)
    assert answer.status_code == 200, await answer.get_data()
    run: dict[str, Any] = (await answer.get_json())["run"]
    return run


async def _tracks(db: Database, sims: Simulators, org_id: uuid.UUID, count: int) -> list[str]:
    spotify_ids = list(sims.spotify.world.catalog.tracks)[:count]
    for spotify_id in spotify_ids:
        await create_track(db, org_id, title="old title", artist="old artist", spotify_id=spotify_id)
    await create_track(db, org_id, title="not on Spotify", artist="nobody")
    return spotify_ids


async def test_a_spotify_sync_refreshes_the_catalogue(
    api: Api, client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "spotify", owner)
        spotify_ids = await _tracks(db, simulators, owner.org_id, 3)
        started = await _sync(api, client, owner, "spotify")
        run = await _status(client, owner, "spotify")
        assert run["id"] == started["id"]
        assert (run["status"], run["total"], run["done"], run["progress"], run["error"]) == ("succeeded", 3, 3,
                                                                                              1.0, None)
        assert run["finishedAt"] is not None
        catalog = simulators.spotify.world.catalog
        rows = await db.fetch("SELECT spotify_id, title, artist FROM tracks WHERE spotify_id IS NOT NULL")
        assert {r["spotify_id"]: r["title"] for r in rows} == {i: catalog.tracks[i].name for i in spotify_ids}
        assert all(r["artist"] != "old artist" for r in rows)
        track_calls = [r for r in simulators.spotify.log if r.path.startswith("/v1/tracks/")]
        assert len(track_calls) == 3


async def test_a_meta_sync_reads_the_effective_status_of_linked_campaigns(
    api: Api, client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        remote = list(simulators.meta.world.campaigns.values())[:2]
        for meta_campaign in remote:
            campaign_id = await create_campaign(db, owner.org_id, name="Release push", start=RUNNING)
            await db.execute("UPDATE campaigns SET meta_ad_account_id = $2, meta_campaign_id = $3 WHERE id = $1",
                             campaign_id, f"act_{meta_campaign.account_id}", meta_campaign.id)
        await create_campaign(db, owner.org_id, name="not on Meta", start=RUNNING)
        await _sync(api, client, owner, "meta")
        run = await _status(client, owner, "meta")
        assert (run["status"], run["total"], run["done"]) == ("succeeded", 2, 2)
        stored = await db.fetch("SELECT meta_campaign_id, meta_effective_status FROM campaigns"
                                " WHERE meta_campaign_id IS NOT NULL")
        assert {r["meta_campaign_id"]: r["meta_effective_status"] for r in stored} == {
            c.id: c.status for c in remote}


async def test_a_sync_with_nothing_to_do_succeeds(
    api: Api, client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "meta", owner)
        await _sync(api, client, owner, "meta")
        run = await _status(client, owner, "meta")
        assert (run["status"], run["total"], run["done"], run["progress"]) == ("succeeded", 0, 0, 1.0)


async def test_a_provider_fault_fails_the_run_with_its_message(
    api: Api, client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "spotify", owner)
        await _tracks(db, simulators, owner.org_id, 2)
        sim = simulators.spotify
        sim.config = msgspec.structs.replace(sim.config, faults=FaultConfig(error_rate=1.0))
        await _sync(api, client, owner, "spotify")
        run = await _status(client, owner, "spotify")
        assert (run["status"], run["total"], run["done"]) == ("failed", 2, 0)
        assert run["error"].startswith("Spotify: spotify HTTP 50"), run["error"]
        # The app lives on: the next request is served as usual.
        assert (await client.get("/v1/integrations", headers=owner.headers)).status_code == 200


async def test_a_stale_running_run_is_reported_interrupted(
    api: Api, client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "spotify", owner)
        stale = await db.fetchval("INSERT INTO sync_runs (organization_id, provider, total, done, heartbeat_at)"
                                  " VALUES ($1, 'spotify', 4, 1, now() - interval '3 minutes') RETURNING id",
                                  owner.org_id)
        run = await _status(client, owner, "spotify")
        assert (run["id"], run["status"], run["error"], run["progress"]) == (str(stale), "failed", "interrupted",
                                                                              0.25)
        assert await db.fetchval("SELECT status FROM sync_runs WHERE id = $1", stale) == "failed"
        fresh = await _sync(api, client, owner, "spotify")  # the dead run no longer blocks a new one
        assert fresh["id"] != str(stale)


async def test_a_second_start_while_one_runs_answers_that_run(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        await connect(client, simulators, "spotify", owner)
        running = await db.fetchval("INSERT INTO sync_runs (organization_id, provider) VALUES ($1, 'spotify')"
                                    " RETURNING id", owner.org_id)
        again = await client.post("/v1/integrations/spotify/sync", headers=owner.headers)
        assert again.status_code == 202
        assert (await again.get_json())["run"]["id"] == str(running)
        assert await db.fetchval("SELECT count(*) FROM sync_runs") == 1


async def test_not_connected_unknown_provider_and_roles(
    client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    with trio.fail_after(30):
        owner = await make_member()
        refused = await client.post("/v1/integrations/spotify/sync", headers=owner.headers)
        assert refused.status_code == 409 and (await refused.get_json())["error"]["code"] == "INTEGRATION_ERROR"
        assert (await client.get("/v1/integrations/spotify/sync/status", headers=owner.headers)).status_code == 404
        assert (await client.post("/v1/integrations/tiktok/sync", headers=owner.headers)).status_code == 404
        await connect(client, simulators, "spotify", owner)
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        assert (await client.post("/v1/integrations/spotify/sync", headers=viewer.headers)).status_code == 403
        assert (await client.get("/v1/integrations/spotify/sync/status", headers=viewer.headers)).status_code == 404
        assert (await client.post("/v1/integrations/spotify/sync")).status_code == 401

