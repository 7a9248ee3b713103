"""Provider faults switched on from ``[simulators] faults_*``: the simulators really answer with them over
HTTP, the same seed gives the same faults, scheduled storms throttle every call, and ``songtrack run``
rides a storm of them out (the demo is set up, the engine keeps running and spending shows up).

Real simulators on real sockets (served in-process, or by a real ``songtrack run``); real clock.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from adapters.meta import simulator as meta_simulator
from adapters.spotify import simulator as spotify_simulator
from adapters.spotify.simulator.sandbox import pkce_login
from config import load
from config.sections import SimulatorSettings
from songtrack.sandbox import meta_with_faults, spotify_with_faults
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.signup import log_in

CALLS = 120
FAULTS = {"SONGTRACK_SIMULATORS_FAULTS_ERROR_RATE": "0.3", "SONGTRACK_SIMULATORS_FAULTS_THROTTLE_RATE": "0.2",
          "SONGTRACK_SIMULATORS_FAULTS_MALFORMED_RATE": "0.1"}


def _sims(**environ: str) -> SimulatorSettings:
    return load(environ).simulators  # through the settings, as an operator sets them


def _outcome(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return "error"
    if response.status_code == 429 or (response.status_code == 400 and '"code":17' in response.text):
        return "throttle"
    try:
        json.loads(response.content)
    except ValueError:
        return "malformed"
    return "ok" if response.status_code == 200 else f"other {response.status_code}"


@asynccontextmanager
async def _meta(sims: SimulatorSettings) -> AsyncIterator[httpx.AsyncClient]:
    config = meta_with_faults(meta_simulator.SimulatorConfig(seed=5), sims)
    async with trio.open_nursery() as nursery:
        served = await nursery.start(meta_simulator.serve_meta_simulator, config)
        async with httpx.AsyncClient(base_url=f"{served.url}/v25.0", timeout=10,
                                     params={"access_token": "SIMULATOR_TOKEN"}) as http:
            yield http
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def _spotify(sims: SimulatorSettings) -> AsyncIterator[httpx.AsyncClient]:
    config = spotify_with_faults(spotify_simulator.SimulatorConfig(seed=5), sims)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(spotify_simulator.serve_spotify_simulator, config)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            token = await pkce_login(http)  # the accounts service is never faulty
            http.headers["Authorization"] = f"Bearer {token.access_token}"
            yield http
        nursery.cancel_scope.cancel()


async def _outcomes(provider: str, sims: SimulatorSettings) -> list[str]:
    opened, path = (_meta, "/me/adaccounts") if provider == "meta" else (_spotify, "/v1/me")
    async with opened(sims) as http:
        return [_outcome(await http.get(path)) for _ in range(CALLS)]


@pytest.mark.parametrize("provider", ["meta", "spotify"])
async def test_configured_rates_produce_the_faults_the_same_under_the_seed(provider: str) -> None:
    with trio.fail_after(60):
        first = await _outcomes(provider, _sims(**FAULTS))
        again = await _outcomes(provider, _sims(**FAULTS))
        calm = await _outcomes(provider, _sims())
    counts = {kind: first.count(kind) for kind in ("ok", "error", "throttle", "malformed")}
    # Throttles are drawn first (20 %), then errors (30 % of the rest) and truncated bodies (10 %).
    assert 0.1 * CALLS <= counts["throttle"] <= 0.32 * CALLS, counts
    assert 0.12 * CALLS <= counts["error"] <= 0.38 * CALLS, counts
    assert 0.02 * CALLS <= counts["malformed"] <= 0.18 * CALLS, counts
    assert sum(counts.values()) == CALLS, first
    assert again == first
    assert calm == ["ok"] * CALLS


@pytest.mark.parametrize("provider", ["meta", "spotify"])
async def test_a_scheduled_storm_throttles_every_call_until_it_ends(provider: str) -> None:
    with trio.fail_after(60):
        assert await _outcomes(provider, _sims(SONGTRACK_SIMULATORS_FAULTS_STORMS="0+3600")) == ["throttle"] * CALLS
        later = await _outcomes(provider, _sims(SONGTRACK_SIMULATORS_FAULTS_STORMS="3600+60"))
    assert later == ["ok"] * CALLS


async def test_run_rides_out_the_faults(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "SONGTRACK_SIMULATORS_STREAM_RATE": "0", "SONGTRACK_SIMULATORS_SPEED": "600"}
    proc = SongtrackProcess(["run", "--data-dir", str(data_dir), "--port", str(port), "--fault-error-rate", "0.3",
                             "--fault-throttle-rate", "0.1", "--fault-malformed-rate", "0.1"],
                            data_dir.parent / "songtrack.log", env)
    await proc.start()
    try:
        await proc.wait_ready(f"http://127.0.0.1:{port}")
        await proc.wait_for_output("Demo label: log in as", within=60)
        assert "Provider faults on: 30% server errors, 10% throttled, 10% malformed" in proc.output
        # What a person needs to point any client at the simulators.
        assert "Meta app: app id 1234567890, app secret simulator-secret;" in proc.output
        assert (f"Spotify app: client id sim0client0id000000000000000000aa, client secret"
                f" sim0client0secret00000000000000bb; redirect URIs http://127.0.0.1:{port}/v1/auth/spotify/callback,"
                f" http://127.0.0.1:{port}/v1/listen/callback") in proc.output
        found = re.search(r"log in as (\S+) / (\S+);", proc.output)
        assert found is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            headers = await log_in(client, found[1], found[2])
            with trio.fail_after(60):
                while True:  # the Meta poller gets the demo campaign's spend through the faults
                    campaigns = (await client.get("/v1/campaigns", headers=headers)).json()["campaigns"]
                    (demo,) = [c for c in campaigns if c["status"] == "active"]
                    if demo["budgetSpent"] > 0:
                        break
                    await trio.sleep(1)
            status = (await client.get("/v1/engine/status", headers=headers)).json()
        assert {a["name"]: a["state"] for a in status["actors"]}["accounts"] == "running"
        assert await proc.stop() == 0
    finally:
        await proc.kill()
