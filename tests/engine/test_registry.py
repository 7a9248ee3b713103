"""engine.registry: the in-memory actor statuses and their change notification.

Rules: the wall clock is a fake we advance by hand; waiting is tested under ``autojump_clock``
with ``wait_all_tasks_blocked`` for quiescence, never with real sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import trio
import trio.testing

from engine.registry import ActorState, ActorStatus, Registry, format_error

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakeWallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_since_moves_only_when_the_state_changes() -> None:
    clock = FakeWallClock()
    registry = Registry(now=clock)
    registry.update("a", ActorState.STARTING)
    clock.now = T0 + timedelta(seconds=1)
    registry.update("a", ActorState.RUNNING)
    clock.now = T0 + timedelta(seconds=2)
    registry.update("a", ActorState.RUNNING, restarts=1)
    assert registry.get("a") == ActorStatus(
        name="a", state=ActorState.RUNNING, restarts=1, since=T0 + timedelta(seconds=1)
    )


def test_last_error_survives_a_restart_until_replaced() -> None:
    registry = Registry()
    registry.update("a", ActorState.BACKING_OFF, restarts=0, last_error="ValueError: boom",
                    next_restart_at=T0)
    registry.update("a", ActorState.RUNNING, restarts=1)
    status = registry.get("a")
    assert status is not None
    assert (status.last_error, status.restarts, status.next_restart_at) == ("ValueError: boom", 1, None)
    registry.update("a", ActorState.RUNNING, last_error=None)
    assert registry.get("a") == msgspec.structs.replace(status, last_error=None)


def test_version_counts_changes_only_and_forget_drops() -> None:
    registry = Registry()
    registry.update("b", ActorState.RUNNING)
    registry.update("a", ActorState.RUNNING)
    registry.update("a", ActorState.RUNNING)  # no change
    assert registry.version == 2
    assert [status.name for status in registry.snapshot()] == ["a", "b"]
    registry.forget("a")
    registry.forget("a")  # unknown: no change
    assert (registry.version, registry.get("a")) == (3, None)


def test_format_error_is_one_short_line() -> None:
    assert format_error(ValueError("bad\nthing")) == "ValueError: bad thing"
    assert format_error(KeyError()) == "KeyError"
    long = format_error(RuntimeError("x" * 2000))
    assert long.startswith("RuntimeError: xxx") and len(long) <= 500


async def test_wait_changed_wakes_on_the_next_change(autojump_clock: trio.testing.MockClock) -> None:
    registry = Registry()
    seen: list[int] = []

    async def watch() -> None:
        seen.append(await registry.wait_changed(registry.version))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        registry.update("a", ActorState.RUNNING)
    assert seen == [1]
    with trio.fail_after(1):  # already past: returns at once
        assert await registry.wait_changed(0) == 1
