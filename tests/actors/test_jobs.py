"""The job runner: jobs run beside each other and a failing one is logged and ends alone; a stop gives the
running jobs ``GRACE`` seconds, then cancels them; no job is taken before the runner runs or once it stops.
Trio's MockClock (autojump) throughout.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.jobs import GRACE, JobRunner
from engine.registry import ActorState, Registry
from engine.supervisor import ChildSpec, Supervisor


async def test_a_failing_job_is_logged_and_neither_the_runner_nor_another_job_ends(
        autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture) -> None:
    runner, registry, done = JobRunner(), Registry(), []
    supervisor = Supervisor("api", registry, children=[ChildSpec("jobs", runner.run, stop=runner.stop)])

    async def fails() -> None:
        await trio.sleep(1)
        raise ValueError("a bug in the job")

    async def works(name: str) -> None:
        await trio.sleep(2)
        done.append(name)

    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        runner.start("broken", fails)
        runner.start("first", lambda: works("first"))
        await trio.sleep(1.5)
        runner.start("second", lambda: works("second"))  # the runner still takes jobs
        await trio.sleep(5)
        status = registry.get("jobs")
        assert status is not None and (status.state, status.restarts) == (ActorState.RUNNING, 0)
        supervisor.stop()
    assert done == ["first", "second"]
    failed = [r for r in caplog.records if r.name == "actors.jobs"]
    assert [r.getMessage() for r in failed] == ["job broken failed"]
    assert failed[0].exc_info is not None and isinstance(failed[0].exc_info[1], ValueError)


async def test_a_stop_gives_running_jobs_the_grace_then_cancels_them(autojump_clock: trio.testing.MockClock) -> None:
    runner, ended = JobRunner(), {}

    async def job(name: str, seconds: float) -> None:
        try:
            await trio.sleep(seconds)
            ended[name] = "finished"
        finally:
            ended.setdefault(name, "cancelled")  # how a job records its end when the runner cancels it

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        runner.start("short", lambda: job("short", GRACE - 1))
        runner.start("long", lambda: job("long", GRACE + 60))
        stopped_at = trio.current_time()
        runner.stop()
    assert ended == {"short": "finished", "long": "cancelled"}
    assert trio.current_time() - stopped_at == pytest.approx(GRACE)


async def test_a_stop_with_nothing_running_ends_at_once(autojump_clock: trio.testing.MockClock) -> None:
    runner = JobRunner()
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        runner.stop()
    assert trio.current_time() == 0


async def test_no_job_is_taken_before_the_runner_runs_or_once_it_stops() -> None:
    runner = JobRunner()

    async def job() -> None:
        pass

    with pytest.raises(RuntimeError, match="not running"):
        runner.start("early", job)
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        runner.stop()
        with pytest.raises(RuntimeError, match="not running"):
            runner.start("late", job)
