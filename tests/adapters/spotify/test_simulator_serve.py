"""The simulator served over a real socket with hypercorn's trio worker.

Rules: one end-to-end test on 127.0.0.1:0 through ``nursery.start``; real time, so a ``fail_after``
deadline guards it; the nursery is cancelled at the end, which is how the server stops.
"""

from __future__ import annotations

import httpx
import trio

from adapters.spotify.simulator import SimulatorConfig, SpotifySimulator, serve_spotify_simulator
from adapters.spotify.simulator.sandbox import pkce_login


async def test_serves_oauth_and_api_on_an_ephemeral_port() -> None:
    simulator = SpotifySimulator(SimulatorConfig(seed=4))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_spotify_simulator, simulator, "127.0.0.1", 0)
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
            async with httpx.AsyncClient(base_url=url) as http:
                tokens = await pkce_login(http, "fan0001")
                me = await http.get("/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
                recent = await http.get("/v1/me/player/recently-played",
                                        headers={"Authorization": f"Bearer {tokens.access_token}"})
            nursery.cancel_scope.cancel()
    assert me.status_code == 200 and me.json()["id"] == "fan0001"
    assert recent.json()["href"].startswith(f"{url}/v1/me/player/recently-played")
    assert [r.path for r in simulator.log] == ["/authorize", "/api/token", "/v1/me", "/v1/me/player/recently-played"]
