"""The Meta simulator's caller log (``GET /__simulator/callers``): which caller (User-Agent and token) called
for which ad account, and when, kept as runs of calls in a row.

Rules: in-process over ``httpx.ASGITransport`` on a ManualClock moved by hand; callers are told apart by
the User-Agent each client sends, as engine processes do.
"""

from __future__ import annotations

import httpx

from adapters.meta.simulator.callers import token_fingerprint
from tests.adapters.meta.sim import TOKEN, client, make


async def test_calls_in_a_row_by_one_caller_are_one_run_and_a_new_caller_starts_another() -> None:
    sim, clock = make(accounts=2)
    first, second = (f"act_{number}" for number in sim.world.accounts)
    async with client(sim) as graph:
        for agent, act in (("engine-a", first), ("engine-a", first), ("engine-b", first), ("engine-a", second)):
            answer = await graph.get(f"/v25.0/{act}/campaigns", headers={"User-Agent": agent})
            assert answer.status_code == 200
            clock.advance(10)
        await graph.get("/v25.0/me/adaccounts")  # no ad account: not logged
        logged = (await graph.get("/__simulator/callers")).json()["data"]
    start = sim.world.clock.now() - 40
    fingerprint = token_fingerprint(TOKEN)
    assert logged == [
        {"account_id": first, "runs": [
            {"user_agent": "engine-a", "token": fingerprint, "first": start, "last": start + 10, "calls": 2},
            {"user_agent": "engine-b", "token": fingerprint, "first": start + 20, "last": start + 20, "calls": 1}]},
        {"account_id": second, "runs": [
            {"user_agent": "engine-a", "token": fingerprint, "first": start + 30, "last": start + 30, "calls": 1}]},
    ]
    assert TOKEN not in str(logged)


async def test_a_call_without_a_valid_token_is_not_logged() -> None:
    sim, _ = make(accounts=1)
    act = f"act_{next(iter(sim.world.accounts))}"
    async with client(sim, token="nobody") as graph:
        assert (await graph.get(f"/v25.0/{act}/campaigns")).status_code == 400
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com") as dev:
        assert (await dev.get("/__simulator/callers")).json() == {"data": []}
    assert [logged.path for logged in sim.requests] == [f"/v25.0/{act}/campaigns"]  # the dev route is not either
