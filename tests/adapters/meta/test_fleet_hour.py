"""A fleet of ad accounts polled for one simulated hour at the development tier (issue 4, item 6).

Rules: the product parts only, composed as a poller composes them: one ``MetaSimulator`` (its quota
model untouched), one ``MetaClient``, one ``Pacer`` shared by every account's task (the app's budget is
shared too), and a trio task per ad account that asks the Pacer, sleeps until then, calls, and feeds the
signals back. Time is trio's ``MockClock`` with autojump, and the simulator's ``SimClock`` reads trio
time, so the simulated hour costs CPU, not wall time. We talk to the simulator in-process through
``httpx.ASGITransport``: a real socket would let autojump leap ahead while a response is on the wire,
and would cost a syscall round trip per call, which is what ``bench/providers.py`` measures instead.

We poll the campaigns list, which spends the ads_management BUC (300 calls per rolling hour per
account at the development tier without active ads, PROVIDERS.md A4) and one point of the ad-account
score; one campaign per account keeps the body small. Throttles are counted twice: from the client's
errors and from the simulator's request log.

Cost: the governor paces to 90 %, so this is about 135,000 real Graph calls through httpx, the simulator
and the Pacer, at about 1.2 ms of CPU each: some 165 s of CPU on the 2-core machine of November 2026.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import httpx
import trio
from trio.testing import MockClock

from adapters.meta import APP_DOMAIN, MetaClient, account_domain
from adapters.meta.simulator import MetaSimulator, SimClock, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from engine.pacing import Pacer
from engine.provider import RateLimitedError
from tests.adapters.meta.sim import TOKEN

HOUR = 3600.0
ACCOUNTS = 500
SCORE_WINDOW = 300.0  # the ad-account score leaks out over 300 s (PROVIDERS.md A4)


def window_for(domain: str) -> float:
    return SCORE_WINDOW if domain.endswith(":score") else HOUR


async def poll(client: MetaClient, pacer: Pacer, act: str, rng: random.Random,
               throttled: list[RateLimitedError]) -> None:
    """Poll ``act``'s campaigns for ever, as fast as the Pacer allows."""
    domains = (APP_DOMAIN, account_domain(act, "score"), account_domain(act, "ads_management"))
    while True:
        rand = rng.random()
        # A time to sleep until, not an event: we ask again after waking (engine.pacing).
        while (at := pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:  # noqa: ASYNC110
            await trio.sleep_until(at)
        pacer.record_call(domains, now)
        try:
            result = await client.campaigns(act)
        except RateLimitedError as exc:
            throttled.append(exc)
            pacer.limited(exc, trio.current_time(), sent_at=now)
        else:
            pacer.observe(result.signals, trio.current_time(), sent_at=now)


async def test_500_accounts_for_one_hour_at_the_development_tier(autojump_clock: MockClock) -> None:
    config = SimulatorConfig(tier="development_access", accounts=ACCOUNTS, campaigns_per_account=1, seed=4)
    started = time.perf_counter()
    sim = MetaSimulator(config, SimClock(parse_start(config.start), 1.0, trio.current_time))
    begin = trio.current_time()
    acts = [f"act_{number}" for number in sim.world.accounts]
    pacer, throttled = Pacer(window_for), list[RateLimitedError]()
    transport = httpx.ASGITransport(sim)
    async with httpx.AsyncClient(transport=transport, base_url="https://graph.facebook.com") as http:
        client = MetaClient(http, TOKEN)
        with trio.move_on_at(begin + HOUR):
            async with trio.open_nursery() as nursery:
                for index, act in enumerate(acts):
                    nursery.start_soon(poll, client, pacer, act, random.Random(index), throttled)
    assert trio.current_time() == begin + HOUR

    statuses = Counter(logged.status for logged in sim.requests)
    ok = Counter(logged.path.split("/")[2] for logged in sim.requests if logged.status == 200)
    allowance = {act: sim.quota.quota(act.removeprefix("act_"), "ads_management") for act in acts}
    used = {act: ok[act] / allowance[act] for act in acts}
    mean = sum(used.values()) / len(used)
    print(f"\n{ACCOUNTS} accounts, 1 simulated hour: {len(sim.requests)} calls in "
          f"{time.perf_counter() - started:.1f} s wall; ads_management used: mean {100 * mean:.1f} %, "
          f"min {100 * min(used.values()):.1f} %, max {100 * max(used.values()):.1f} % of {allowance[acts[0]]}/h")
    assert throttled == []
    assert statuses == {200: len(sim.requests)}  # no 17, 613 or 8000x: no 400 at all
    assert set(allowance.values()) == {300}  # 300 + 40 x 0 active ads (PROVIDERS.md A4)
    assert mean >= 0.70
    assert max(used.values()) <= 1.0
