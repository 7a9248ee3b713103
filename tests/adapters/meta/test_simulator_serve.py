"""The Meta simulator served over real HTTP (hypercorn on 127.0.0.1:0), and its scripted faults.

Rules: the served test uses real sockets and trio's real clock under a ``fail_after``; fault tests use
``ASGITransport`` and fault rates of 0 or 1 so the outcome never depends on a draw.
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio
from trio.testing import MockClock

from adapters.meta.simulator import FaultConfig, MetaSimulator, SimulatorConfig, serve_meta_simulator

TOKEN = "SIMULATOR_TOKEN"


async def test_serves_graph_on_an_ephemeral_port(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        served = await nursery.start(serve_meta_simulator, SimulatorConfig(seed=3), "127.0.0.1", 0)
        assert served.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=served.url) as http:
            response = await http.get("/v23.0/me/adaccounts", params={"access_token": TOKEN, "fields": "id,currency"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 6
    assert served.simulator.requests[-1].path == "/v23.0/me/adaccounts"
    nursery.cancel_scope.cancel()


async def call(faults: FaultConfig) -> httpx.Response:
    sim = MetaSimulator(SimulatorConfig(faults=faults))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com") as http:
        return await http.get("/v25.0/me/adaccounts", params={"access_token": TOKEN})


async def test_500_fault_is_code_1_subcode_99() -> None:
    response = await call(FaultConfig(error_500_rate=1.0))
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (1, 99, True)


async def test_503_fault_is_not_json() -> None:
    response = await call(FaultConfig(error_503_rate=1.0))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")


async def test_malformed_fault_truncates_a_200_body() -> None:
    response = await call(FaultConfig(malformed_rate=1.0))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("transient", [False, True])
async def test_forced_throttle_storm_gives_17_2446079(transient: bool) -> None:
    response = await call(FaultConfig(throttle_rate=1.0, throttle_is_transient=transient))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (17, 2446079, transient)
    assert "x-app-usage" in response.headers


async def test_latency_is_on_the_trio_clock(autojump_clock: MockClock) -> None:
    start = trio.current_time()
    response = await call(FaultConfig(latency_s=30.0))
    assert response.status_code == 200
    assert trio.current_time() - start >= 30.0


async def test_code_2_fault_is_transient() -> None:
    response = await call(FaultConfig(error_2_rate=1.0))
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["is_transient"]) == (2, True)
