"""The sandbox's listen link as a newcomer meets it: `songtrack run` in sandbox mode, a label that connected
its Spotify account through the simulator, and fans who open a campaign's link in a browser (no
``sim_user``: the simulator decides who they are).

Real process, real PostgreSQL, real HTTP; real clock (the child cannot follow MockClock). The simulators
run 3600 times faster than the wall clock, so a token that lived in simulated time would die within
seconds: the label must still be connected (and its poller running) after the fans.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.signup import connect, register


@pytest.fixture
async def sandbox(data_dir: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {**os.environ, "SONGTRACK_SIMULATORS_STREAM_RATE": "0", "SONGTRACK_SIMULATORS_SPEED": "3600"}
    proc = SongtrackProcess(["run", "--data-dir", str(data_dir), "--port", str(port)],
                            data_dir.parent / "songtrack.log", env)
    await proc.start()
    try:
        await proc.wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
        assert await proc.stop() == 0
    finally:
        await proc.kill()


async def _fan_opens(link: str) -> httpx.Response:
    """A browser following the link: our 302 to the simulator's consent, its 302 back to our callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        return await browser.get(link)


async def test_fans_are_new_listeners_and_the_labels_connection_is_untouched(sandbox: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as client:
        headers = await register(client)
        label = await connect(client, headers, "spotify")
        assert label["externalAccountId"] == "songtrack-label"
        campaign = (await client.post("/v1/campaigns", headers=headers, json={
            "name": "Fan drive", "objective": "streams", "budget": 100, "currency": "USD",
            "startDate": "2026-01-01T00:00:00Z", "endDate": "2030-01-01T00:00:00Z"})).json()
        link = (await client.post(f"/v1/campaigns/{campaign['id']}/listen-link", headers=headers)).json()["url"]
        for _ in range(2):
            opened = await _fan_opens(link)
            assert opened.status_code == 200 and "connected" in opened.text, opened.text
        listeners = (await client.get(f"/v1/campaigns/{campaign['id']}/listeners", headers=headers)).json()
        fans = sorted(listener["spotifyUserId"] for listener in listeners["listeners"])
        assert fans == ["fan0000", "fan0001"]
        await trio.sleep(3)  # three simulated hours: past an access token's hour in the simulator's time
        # The label's token still works: the profile comes from the simulator through it.
        profile = await client.get("/v1/spotify/profile", headers=headers)
        assert profile.status_code == 200, profile.text
        with trio.fail_after(30):
            while True:
                (spotify,) = [i for i in (await client.get("/v1/integrations", headers=headers)).json()
                              ["integrations"] if i["provider"] == "spotify"]
                if spotify["poller"] is not None:
                    break
                await trio.sleep(0.5)
    assert spotify["status"] == "connected", spotify
    assert spotify["poller"]["state"] not in ("needs_reauth", "stopped"), spotify
