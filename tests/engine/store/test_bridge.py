"""The asyncio-thread bridge, tested with plain asyncio coroutines (no database).

Rules: real time only (no autojump clock: the other thread does not follow trio's clock); every test has a
``fail_after`` deadline; cancellation tests assert what the asyncio side saw, not just what trio saw.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import trio
import trio.testing
import uvloop

from engine.store.bridge import AsyncioThread, BridgeClosed, open_asyncio_thread


async def _where() -> tuple[int, bool]:
    return threading.get_ident(), isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def _add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def _fail(message: str) -> None:
    raise KeyError(message)


async def test_call_runs_on_a_uvloop_thread_and_returns_the_result() -> None:
    with trio.fail_after(5):
        async with open_asyncio_thread() as thread:
            ident, is_uvloop = await thread.call(_where)
            assert await thread.call(_add, 2, 3) == 5
    assert ident != threading.get_ident()
    assert is_uvloop


async def test_exceptions_propagate_unchanged() -> None:
    with trio.fail_after(5):
        async with open_asyncio_thread() as thread:
            with pytest.raises(KeyError, match="boom"):
                await thread.call(_fail, "boom")
            assert await thread.call(_add, 1, 1) == 2


async def test_cancel_waits_until_the_asyncio_side_has_cleaned_up() -> None:
    seen: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.1)  # like asyncpg cancelling a query server-side
            seen.append("cleaned up")
            raise

    with trio.fail_after(5):
        async with open_asyncio_thread() as thread:
            start = time.monotonic()
            with trio.move_on_after(0.1) as scope:
                await thread.call(slow)
            assert scope.cancelled_caught
            assert seen == ["cleaned up"]  # before trio got control back, not some time later
            assert time.monotonic() - start < 1


async def test_a_call_cancelled_before_it_starts_still_runs_its_cleanup() -> None:
    # A coroutine handed a resource (the store's COMMIT-and-release, given a connection) must reach its
    # ``finally`` even when trio cancels it in the very turn of the loop that starts it.
    seen: list[str] = []

    async def holding() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            seen.append("released")

    with trio.fail_after(5):
        async with open_asyncio_thread() as thread:
            with trio.CancelScope() as scope:
                scope.cancel()  # pending before the call: trio aborts it at its first checkpoint
                await thread.call(holding)
    assert scope.cancelled_caught
    assert seen == ["released"]


async def test_a_result_that_wins_the_race_with_cancel_is_delivered() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "finished anyway"
        return "slept"

    with trio.fail_after(5):
        async with open_asyncio_thread() as thread:
            with trio.move_on_after(0.05):
                result = await thread.call(stubborn)
            assert result == "finished anyway"


async def test_many_concurrent_calls() -> None:
    results: list[int] = []

    async def one(thread: AsyncioThread, i: int) -> None:
        results.append(await thread.call(_add, i, 1))

    with trio.fail_after(5):
        async with open_asyncio_thread() as thread, trio.open_nursery() as inner:
            for i in range(200):
                inner.start_soon(one, thread, i)
    assert sorted(results) == list(range(1, 201))


async def test_thread_stops_on_error_and_refuses_calls_after() -> None:
    with trio.fail_after(5), pytest.raises(ValueError):
        async with open_asyncio_thread(name="bridge-under-test") as thread:
            raise ValueError
    assert not thread.running
    assert "bridge-under-test" not in {t.name for t in threading.enumerate()}
    with pytest.raises(BridgeClosed):
        await thread.call(_add, 1, 2)


async def test_close_fails_calls_still_in_flight() -> None:
    thread = AsyncioThread()
    await trio.to_thread.run_sync(thread.start)
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await thread.call(asyncio.sleep, 10)
        except BridgeClosed as exc:
            errors.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            await trio.to_thread.run_sync(thread.close)
    assert len(errors) == 1
