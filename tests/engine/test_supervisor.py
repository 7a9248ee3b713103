"""engine.supervisor: one-for-one restarts, backoff, intensity, escalation and graceful shutdown.

Rules: every test runs on ``autojump_clock`` (no real sleeps) under a deadline on the trio clock
(``fail_after``, or ``move_on_after`` where cutting the run short is the point), so a hang fails
instead of blocking. Children are small scripted actors that record the
trio time of each start; we assert counts, times and what the registry showed, never internals.
The registry's wall clock is derived from the trio clock so ``next_restart_at`` can be checked.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
import trio
from prometheus_client import REGISTRY
from trio.testing import MockClock

from engine.backoff import Backoff, Intensity
from engine.logs import current_actor
from engine.registry import ActorState, ActorStatus, Registry
from engine.store.errors import StoreUnavailable
from engine.supervisor import ChildSpec, Escalation, Restart, Supervisor

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = 600  # trio-clock seconds; with autojump this only trips on a hang


def wall() -> datetime:
    return T0 + timedelta(seconds=trio.current_time())


async def crash() -> None:
    raise ValueError("boom")


async def lose_database() -> None:
    raise StoreUnavailable("connection refused")


class Actor:
    """A scripted child: attempt i reports started, then does script[i] (the last step repeats)."""

    def __init__(self, *script: str) -> None:
        self.script = script
        self.starts: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        step = self.script[min(len(self.starts), len(self.script) - 1)]
        self.starts.append(trio.current_time())
        task_status.started()
        if step == "crash":
            raise ValueError("boom")
        if step == "forever":
            await trio.sleep_forever()
        if step == "linger-then-crash":
            await trio.sleep(100)
            raise ValueError("boom")
        if step == "crash-after-1s":
            await trio.sleep(1)
            raise ValueError("boom")
        if step == "crash-in-a-nursery":  # arrives wrapped in a strict ExceptionGroup
            async with trio.open_nursery() as nursery:
                nursery.start_soon(crash)
        if step == "db-down":
            raise StoreUnavailable("connection refused")
        if step == "db-down-in-two-tasks":  # a group of two, each of which lost the database
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lose_database)
                nursery.start_soon(lose_database)
        if step == "linger-then-db-down":
            await trio.sleep(100)
            raise StoreUnavailable("connection refused")


async def record(registry: Registry, name: str, history: list[ActorStatus],
                 *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Append every distinct status of ``name`` the registry shows, as a status page would see it."""
    seen = registry.version
    task_status.started()
    while True:
        seen = await registry.wait_changed(seen)
        status = registry.get(name)
        if status is not None and (not history or history[-1] != status):
            history.append(status)


def state(registry: Registry, name: str) -> ActorState:
    status = registry.get(name)
    assert status is not None
    return status.state


async def test_crashing_child_restarts_with_growing_delays(
    autojump_clock: MockClock, nursery: trio.Nursery
) -> None:
    registry, child, history = Registry(now=wall), Actor("crash"), list[ActorStatus]()
    sup = Supervisor("root", registry, children=[ChildSpec("c", child.run)], rng=random.Random(7),
                     intensity=Intensity(max_restarts=100, period=1000))
    await nursery.start(record, registry, "c", history)
    with trio.move_on_after(20):
        await sup.run()
    gaps = [later - earlier for earlier, later in zip(child.starts, child.starts[1:], strict=False)]
    assert len(gaps) >= 4 and gaps == sorted(gaps)
    for attempt, gap in enumerate(gaps, start=1):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))  # Backoff() defaults
        assert ceiling / 2 - 1e-9 <= gap <= ceiling + 1e-9
    backing_off = [s for s in history if s.state is ActorState.BACKING_OFF]
    assert [s.restarts for s in backing_off] == list(range(len(backing_off)))
    for status in backing_off[: len(gaps)]:  # announced wall time == actual restart time
        assert status.next_restart_at is not None and status.last_error == "ValueError: boom"
        due = (status.next_restart_at - T0).total_seconds()
        assert due == pytest.approx(child.starts[status.restarts + 1], abs=1e-5)
    final = registry.get("c")
    assert final is not None and final.restarts == len(child.starts) - 1


def restarts(kind: str) -> float:
    return REGISTRY.get_sample_value("songtrack_actor_restarts_total", {"kind": kind}) or 0.0


async def test_restarts_are_counted_by_kind_and_waits_for_the_database_are_not(autojump_clock: MockClock) -> None:
    crashing, waiting = Actor("crash", "crash", "forever"), Actor("db-down", "db-down", "forever")
    before = {kind: restarts(kind) for kind in ("meta", "stream-counter")}
    sup = Supervisor("root", Registry(), children=[ChildSpec("meta:act_1", crashing.run),
                                                   ChildSpec("stream-counter", waiting.run)],
                     rng=random.Random(3))
    with trio.move_on_after(60):
        await sup.run()
    assert restarts("meta") - before["meta"] == 2  # by kind, not by account: no id in a label
    assert restarts("stream-counter") == before["stream-counter"]


async def test_crash_counter_restarts_after_a_long_run(autojump_clock: MockClock) -> None:
    child = Actor("crash", "crash", "crash", "linger-then-crash", "crash", "forever")
    sup = Supervisor("root", Registry(), children=[ChildSpec("c", child.run)], rng=random.Random(3))
    with trio.move_on_after(200):
        await sup.run()
    gaps = [later - earlier for earlier, later in zip(child.starts, child.starts[1:], strict=False)]
    assert 1 <= gaps[2] <= 2  # the 3rd crash in a row waits within [d/2, d] for d = 2 s
    assert 100.25 <= gaps[3] <= 100.5  # ran 100 s > period 30 s: the next wait is a first one again
    assert 0.5 <= gaps[4] <= 1


async def test_crash_inside_a_child_nursery_is_unwrapped(autojump_clock: MockClock) -> None:
    registry, child = Registry(), Actor("crash-in-a-nursery", "forever")
    sup = Supervisor("root", registry, children=[ChildSpec("c", child.run)])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(10)
            status = registry.get("c")
            assert status is not None and status.last_error == "ValueError: boom"
            assert (status.state, status.restarts, len(child.starts)) == (ActorState.RUNNING, 1, 2)
            sup.stop()


async def test_escalates_past_its_intensity(autojump_clock: MockClock) -> None:
    registry, crasher, sibling = Registry(), Actor("crash"), Actor("forever")
    sup = Supervisor("root", registry, rng=random.Random(1),
                     intensity=Intensity(max_restarts=2, period=60), children=[
        ChildSpec("sibling", sibling.run), ChildSpec("crasher", crasher.run),
    ])
    with trio.fail_after(LIMIT), pytest.raises(Escalation) as caught:
        await sup.run()
    assert (caught.value.supervisor, caught.value.child) == ("root", "crasher")
    assert isinstance(caught.value.__cause__, ValueError)
    assert len(crasher.starts) == 3  # 2 restarts allowed, the 3rd crash escalates
    status = registry.get("crasher")
    assert status is not None
    assert (status.state, status.restarts, status.last_error) == (ActorState.FAILED, 2, "ValueError: boom")
    assert state(registry, "sibling") is ActorState.STOPPED  # cancelled before run() raised


def waiting_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "waiting for the database" in r.getMessage() and r.levelno >= logging.INFO]


async def test_an_unavailable_database_is_waited_for_outside_the_intensity(
    autojump_clock: MockClock, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry, history = Registry(now=wall), list[ActorStatus]()
    child = Actor(*["db-down", "db-down-in-two-tasks"] * 20, "forever")
    sup = Supervisor("root", registry, children=[ChildSpec("c", child.run)], rng=random.Random(5),
                     intensity=Intensity(max_restarts=2, period=60))
    await nursery.start(record, registry, "c", history)
    with trio.fail_after(LIMIT):
        await nursery.start(sup.run)
        await trio.sleep(200)
    assert len(child.starts) == 41  # 40 attempts in the outage, far past 2 restarts in 60 s, no escalation
    gaps = [later - earlier for earlier, later in zip(child.starts, child.starts[1:], strict=False)]
    assert all(0.25 <= gap <= 3.0 for gap in gaps) and max(gaps) > 1.5  # backoff with jitter, capped
    waiting = [s for s in history if s.state is ActorState.WAITING_FOR_DATABASE]
    assert len(waiting) == 40 and waiting[0].last_error == "StoreUnavailable: connection refused"
    assert not any(s.state is ActorState.BACKING_OFF for s in history)
    final = registry.get("c")
    assert final is not None and (final.state, final.restarts) == (ActorState.RUNNING, 0)
    [logged] = waiting_logs(caplog)  # once per outage, not once per retry
    assert logged.levelno == logging.WARNING and logged.exc_info is None


async def test_a_real_crash_still_escalates_after_an_outage(autojump_clock: MockClock) -> None:
    child = Actor(*["db-down"] * 10, "crash")
    sup = Supervisor("root", Registry(), children=[ChildSpec("c", child.run)], rng=random.Random(2),
                     intensity=Intensity(max_restarts=2, period=60))
    with trio.fail_after(LIMIT), pytest.raises(Escalation) as caught:
        await sup.run()
    assert isinstance(caught.value.__cause__, ValueError)
    assert len(child.starts) == 13  # 10 waits counted nothing; 3 crashes: 2 restarts, then escalation


async def test_each_outage_is_logged_once(autojump_clock: MockClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    child = Actor("db-down", "db-down", "linger-then-db-down", "db-down", "forever")
    sup = Supervisor("root", Registry(), children=[ChildSpec("c", child.run)], rng=random.Random(4))
    with trio.move_on_after(200):
        await sup.run()
    assert len(child.starts) == 5 and len(waiting_logs(caplog)) == 2  # ran 100 s in between: a new outage


async def test_one_for_one_sibling_keeps_running(autojump_clock: MockClock) -> None:
    registry, stable, flaky = Registry(), Actor("forever"), Actor("crash", "crash", "forever")
    sup = Supervisor("root", registry, rng=random.Random(1),
                     children=[ChildSpec("stable", stable.run), ChildSpec("flaky", flaky.run)])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(10)
            assert len(flaky.starts) == 3 and state(registry, "flaky") is ActorState.RUNNING
            assert stable.starts == [0.0] and state(registry, "stable") is ActorState.RUNNING
            flaky_status = registry.get("flaky")
            assert flaky_status is not None and flaky_status.last_error == "ValueError: boom"
            assert flaky_status.restarts == 2
            sup.stop()


async def test_temporary_child_is_never_restarted(autojump_clock: MockClock) -> None:
    registry, crasher, quitter = Registry(), Actor("crash"), Actor("return")
    sup = Supervisor("root", registry, children=[
        ChildSpec("crasher", crasher.run, restart=Restart.TEMPORARY),
        ChildSpec("quitter", quitter.run, restart=Restart.TEMPORARY),
    ])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(60)
            sup.stop()
    assert (len(crasher.starts), len(quitter.starts)) == (1, 1)
    status = registry.get("crasher")
    assert status is not None and (status.state, status.last_error) == (ActorState.FAILED, "ValueError: boom")
    assert state(registry, "quitter") is ActorState.STOPPED


async def test_transient_child_is_restarted_after_a_crash_only(autojump_clock: MockClock) -> None:
    registry, quitter, flaky = Registry(), Actor("return"), Actor("crash", "return")
    sup = Supervisor("root", registry, rng=random.Random(1), children=[
        ChildSpec("quitter", quitter.run, restart=Restart.TRANSIENT),
        ChildSpec("flaky", flaky.run, restart=Restart.TRANSIENT),
    ])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(60)
            sup.stop()
    assert (len(quitter.starts), len(flaky.starts)) == (1, 2)
    assert state(registry, "quitter") is state(registry, "flaky") is ActorState.STOPPED


async def test_permanent_child_is_restarted_after_a_normal_return(
    autojump_clock: MockClock,
) -> None:
    registry, child = Registry(), Actor("return", "forever")
    sup = Supervisor("root", registry, children=[ChildSpec("c", child.run)])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(10)
            assert len(child.starts) == 2 and state(registry, "c") is ActorState.RUNNING
            sup.stop()


def consumer_and_producers(n: int) -> tuple[list[ChildSpec], list[int], list[str]]:
    """A consumer with ``n`` queued messages (0.1 s of work each) and two producers started after it."""
    send, inbox = trio.open_memory_channel[int](n)
    for i in range(n):
        send.send_nowait(i)
    processed: list[int] = []
    stopped: list[str] = []

    async def consumer(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            async for msg in inbox:
                await trio.sleep(0.1)
                processed.append(msg)
        finally:
            stopped.append("consumer")

    def producer(name: str) -> ChildSpec:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                stopped.append(name)

        return ChildSpec(name, run)

    children = [ChildSpec("consumer", consumer, stop=send.close), producer("p1"), producer("p2")]
    return children, processed, stopped


async def test_stop_drains_in_reverse_start_order(autojump_clock: MockClock) -> None:
    registry = Registry()
    children, processed, stopped = consumer_and_producers(5)
    sup = Supervisor("root", registry, children=children)
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            begun = trio.current_time()
            sup.stop()
    assert processed == [0, 1, 2, 3, 4]
    assert stopped == ["p2", "p1", "consumer"]
    assert trio.current_time() - begun == pytest.approx(0.5)
    assert {s.state for s in registry.snapshot()} == {ActorState.STOPPED}


async def test_no_restarts_once_stop_was_requested(autojump_clock: MockClock) -> None:
    registry, early = Registry(), Actor("crash-after-1s", "forever")
    children, processed, _ = consumer_and_producers(20)  # draining takes 2 s
    sup = Supervisor("root", registry, children=[ChildSpec("early", early.run), *children])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            sup.stop()  # early crashes at 1 s, while the consumer (stopped before it) still drains
    assert len(processed) == 20 and len(early.starts) == 1
    assert state(registry, "early") is ActorState.FAILED


async def test_callers_deadline_abandons_the_rest_of_the_work(autojump_clock: MockClock) -> None:
    children, processed, stopped = consumer_and_producers(5)
    sup = Supervisor("root", Registry(), children=children)
    deadline = trio.current_time() + 0.25  # shorter than the 0.5 s of queued work
    with trio.CancelScope(deadline=deadline) as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            sup.stop()
    assert scope.cancelled_caught
    assert trio.current_time() == deadline
    assert processed == [0, 1]
    assert stopped == ["p2", "p1", "consumer"]


async def test_stop_child_during_backoff_is_immediate(autojump_clock: MockClock) -> None:
    registry, child = Registry(), Actor("crash")
    sup = Supervisor("root", registry, children=[ChildSpec("c", child.run)],
                     backoff=Backoff(base=100, cap=100))
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)  # returns once the first attempt crashed
            assert state(registry, "c") is ActorState.BACKING_OFF
            begun = trio.current_time()
            await sup.stop_child("c")
            assert trio.current_time() == begun
            assert registry.get("c") is None
            await trio.sleep(500)
            sup.stop()
    assert len(child.starts) == 1


async def test_start_child_adds_a_dynamic_child_once(autojump_clock: MockClock) -> None:
    registry, account = Registry(), Actor("forever")
    sup = Supervisor("root", registry)
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await sup.start_child(ChildSpec("account-1", account.run))
            assert state(registry, "account-1") is ActorState.RUNNING
            with pytest.raises(ValueError, match="account-1"):
                await sup.start_child(ChildSpec("account-1", account.run))
            sup.stop()
    assert len(account.starts) == 1 and state(registry, "account-1") is ActorState.STOPPED
    with pytest.raises(ValueError, match="duplicate"):
        Supervisor("root", registry, children=[ChildSpec("a", account.run), ChildSpec("a", account.run)])


def tag_actor(record: logging.LogRecord) -> bool:
    """What the handler filter of engine.logs.configure_logging does, on pytest's capture handler."""
    record.actor = current_actor.get()
    return True


async def test_log_records_carry_the_child_name(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(tag_actor)

    async def greeter(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        logging.getLogger("tests.greeter").info("hello")
        task_status.started()
        raise ValueError("boom")

    sup = Supervisor("root", Registry(), children=[ChildSpec("greeter", greeter, restart=Restart.TEMPORARY)])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            sup.stop()
    hello = next(r for r in caplog.records if r.getMessage() == "hello")
    [crash] = [r for r in caplog.records if r.levelno == logging.ERROR]  # logged once, by the supervisor
    assert hello.actor == crash.actor == "greeter"  # type: ignore[attr-defined]
    assert crash.exc_info is not None and crash.exc_info[0] is ValueError


async def test_nested_supervisor_escalation_is_a_crash_its_parent_restarts(
    autojump_clock: MockClock,
) -> None:
    registry, flaky = Registry(), Actor("crash")
    inner = Supervisor("inner", registry, children=[ChildSpec("flaky", flaky.run)],
                       intensity=Intensity(max_restarts=1, period=60), rng=random.Random(1))
    outer = Supervisor("outer", registry, children=[ChildSpec("inner", inner.run, stop=inner.stop)],
                       rng=random.Random(2))
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(outer.run)
            await trio.sleep(5)
            outer.stop()
    status = registry.get("inner")
    assert status is not None and status.restarts >= 2 and status.state is ActorState.STOPPED
    assert status.last_error == f"Escalation: {Escalation('inner', 'flaky')}"
    assert len(flaky.starts) >= 2 * status.restarts + 1  # every escalated inner run started flaky twice


async def test_nested_supervisor_stops_through_its_hook(autojump_clock: MockClock) -> None:
    registry, worker = Registry(), Actor("forever")
    inner = Supervisor("inner", registry, children=[ChildSpec("worker", worker.run)])
    outer = Supervisor("outer", registry, children=[ChildSpec("inner", inner.run, stop=inner.stop)])
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(outer.run)
            assert state(registry, "worker") is ActorState.RUNNING
            outer.stop()
    assert len(worker.starts) == 1
    status = registry.get("inner")
    assert status is not None and (status.state, status.restarts, status.last_error) == (
        ActorState.STOPPED, 0, None
    )
    assert state(registry, "worker") is ActorState.STOPPED
