"""``LimitedTransport``: the account actors' shared client lets in as many requests as it has connections,
spread over its pools.

Rules: a bare ASGI app behind ``httpx.ASGITransport`` stands in for the provider and counts the requests it
serves at once; it holds each one until the test lets it go. Time is trio's MockClock (autojump).
"""

from __future__ import annotations

import httpx
import trio
import trio.testing

from actors.http import LimitedTransport


class _Held:
    """An ASGI app answering 200 once ``release`` is set; ``now`` and ``most`` count requests in it."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.release = trio.Event()

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await self.release.wait()
        finally:
            self.now -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def test_requests_past_the_limit_wait_and_all_are_answered(autojump_clock: trio.testing.MockClock) -> None:
    app, answered = _Held(), []
    async with httpx.AsyncClient(transport=LimitedTransport([httpx.ASGITransport(app)], 2),
                                 base_url="http://provider") as http:

        async def get() -> None:
            answered.append((await http.get("/")).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(get)
            await trio.testing.wait_all_tasks_blocked()
            assert app.now == 2
            app.release.set()
    assert (app.most, answered) == (2, [200] * 5)


async def test_cancelled_requests_give_their_places_back(autojump_clock: trio.testing.MockClock) -> None:
    app = _Held()
    async with httpx.AsyncClient(transport=LimitedTransport([httpx.ASGITransport(app)], 2),
                                 base_url="http://provider") as http:
        with trio.move_on_after(1):  # two in flight, three waiting: all cancelled
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(http.get, "/")
        app.release.set()
        with trio.fail_after(1):
            assert [(await http.get("/")).status_code for _ in range(3)] == [200] * 3


async def test_requests_spread_over_the_pools_up_to_each_ones_limit(autojump_clock: trio.testing.MockClock) -> None:
    first, second = _Held(), _Held()
    transport = LimitedTransport([httpx.ASGITransport(first), httpx.ASGITransport(second)], 2)
    async with httpx.AsyncClient(transport=transport, base_url="http://provider") as http, \
            trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(http.get, "/")
        await trio.testing.wait_all_tasks_blocked()
        assert (first.now, second.now) == (2, 2)  # the fifth waits
        first.release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert second.now == 2
        second.release.set()
    assert (first.most, second.most) == (2, 2)
