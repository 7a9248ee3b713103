"""The simulator's hidden limits and injected faults over HTTP, plus the pure window's invariants
(PROVIDERS.md B3, D "Spotify" rate limiting).

Rules: limits are observed only through ``/v1`` answers and the request log; simulated time moves only
through ``ManualTime.advance``; the pure ``RollingWindow`` gets hypothesis, the HTTP behaviour does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import msgspec
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from adapters.spotify.simulator import (
    FaultConfig,
    ManualTime,
    RateLimitConfig,
    SimClock,
    SimulatorConfig,
    SpotifySimulator,
)
from adapters.spotify.simulator.quota import RollingWindow
from adapters.spotify.simulator.sandbox import pkce_login


def _simulator(**overrides: object) -> tuple[SpotifySimulator, ManualTime]:
    config = SimulatorConfig(**{"seed": 2, **overrides})  # type: ignore[arg-type]
    time = ManualTime()
    return SpotifySimulator(config, clock=SimClock(config.start, monotonic=time)), time


@asynccontextmanager
async def _session(simulator: SpotifySimulator) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client on the simulator, logged in as the label user."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(simulator), base_url="http://sim.test") as http:
        yield http, {"Authorization": f"Bearer {(await pkce_login(http)).access_token}"}


async def test_rolling_window_answers_429_in_plain_text() -> None:
    simulator, time = _simulator(rate_limit=RateLimitConfig(window_limit=5))
    async with _session(simulator) as (http, auth):
        for _ in range(5):
            time.advance(1)
            assert (await http.get("/v1/me", headers=auth)).status_code == 200
        refused = await http.get("/v1/me", headers=auth)
        assert refused.status_code == 429
        assert refused.content == b"Too many requests" and refused.headers["content-length"] == "17"
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        assert not [h for h in refused.headers if h.lower().startswith("x-ratelimit")]
        time.advance(int(refused.headers["retry-after"]))
        assert (await http.get("/v1/me", headers=auth)).status_code == 200


async def test_rolling_window_json_variant() -> None:
    simulator, _ = _simulator(rate_limit=RateLimitConfig(window_limit=1, json_body=True))
    async with _session(simulator) as (http, auth):
        await http.get("/v1/me", headers=auth)
        refused = await http.get("/v1/me", headers=auth)
    assert refused.json() == {"error": {"status": 429, "message": "Too many requests"}}
    assert int(refused.headers["retry-after"]) == 30


async def test_calls_while_throttled_extend_retry_after() -> None:
    simulator, _ = _simulator(rate_limit=RateLimitConfig(window_limit=1, penalty_s=60))
    async with _session(simulator) as (http, auth):
        await http.get("/v1/me", headers=auth)
        waits = [int((await http.get("/v1/me", headers=auth)).headers["retry-after"]) for _ in range(3)]
    assert waits == [30, 90, 150]


async def test_daily_quota_exceeded_has_a_long_retry_after() -> None:
    simulator, time = _simulator(rate_limit=RateLimitConfig(daily_quota=3, window_limit=100))
    async with _session(simulator) as (http, auth):
        for _ in range(3):
            assert (await http.get("/v1/me", headers=auth)).status_code == 200
        time.advance(600)
        refused = await http.get("/v1/me", headers=auth)
        assert refused.status_code == 429
        assert refused.json() == {"error": {"status": 429, "message": "Too many requests",
                                            "reason": "QUOTA_EXCEEDED"}}
        assert int(refused.headers["retry-after"]) == 86_400 - 600
        time.advance(86_400)
        auth = {"Authorization": f"Bearer {(await pkce_login(http)).access_token}"}
        assert (await http.get("/v1/me", headers=auth)).status_code == 200
    assert [r.outcome for r in simulator.log if r.path == "/v1/me"] == ["ok"] * 3 + ["quota_exceeded", "ok"]


@pytest.mark.parametrize(("faults", "status"), [
    (FaultConfig(error_rate=1.0), {500, 502, 503}),
    (FaultConfig(storm_rate=1.0, storm_retry_after=7), {429}),
])
async def test_configured_faults(faults: FaultConfig, status: set[int]) -> None:
    simulator, _ = _simulator(faults=faults)
    async with _session(simulator) as (http, auth):
        answers = [await http.get("/v1/me", headers=auth) for _ in range(5)]
    assert {a.status_code for a in answers} <= status
    if status == {429}:
        assert {a.headers["retry-after"] for a in answers} == {"7"}


async def test_malformed_bodies_do_not_decode() -> None:
    simulator, _ = _simulator(faults=FaultConfig(malformed_rate=1.0))
    async with _session(simulator) as (http, auth):
        answer = await http.get("/v1/me", headers=auth)
    assert answer.status_code == 200
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(answer.content)


async def test_latency_is_added_on_the_trio_clock(autojump_clock: trio.testing.MockClock) -> None:
    simulator, _ = _simulator(faults=FaultConfig(latency_s=2.5))
    async with _session(simulator) as (http, auth):
        before = trio.current_time()
        assert (await http.get("/v1/me", headers=auth)).status_code == 200
    assert trio.current_time() - before == pytest.approx(2.5)


@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=60), st.integers(1, 8))
def test_window_never_admits_more_than_its_limit(gaps: list[float], limit: int) -> None:
    window, now, admitted = RollingWindow(limit, 30.0), 0.0, []
    for gap in gaps:
        now += gap
        wait = window.admit(now)
        if wait is None:
            admitted.append(now)
        else:
            assert wait >= 1
    for t in admitted:
        assert sum(1 for u in admitted if t - 30 < u <= t) <= limit


async def test_scheduled_storm_refuses_every_call_until_it_ends() -> None:
    start = SimulatorConfig().start
    storm = (start + timedelta(minutes=10), start + timedelta(minutes=12))
    simulator, time = _simulator(faults=FaultConfig(storms=(storm,)))
    async with _session(simulator) as (http, auth):
        assert (await http.get("/v1/me", headers=auth)).status_code == 200
        time.advance(10 * 60 + 30)
        inside = await http.get("/v1/me", headers=auth)
        time.advance(90)
        after = await http.get("/v1/me", headers=auth)
    assert inside.status_code == 429 and inside.headers["retry-after"] == "90"
    assert after.status_code == 200
