"""The job runner: the one-off background work of an API process (stream-report imports, report exports,
provider sync runs) runs in its nursery, under that process's supervisor, not in a request.

A job records its own progress and end in the store, how a failure or a cancellation ends it included;
the runner only runs it. It does not schedule or retry anything.
"""

from __future__ import annotations

import logging

import trio

from engine.audit import attribute_task
from engine.jobs import Job

__all__ = ["GRACE", "JobRunner"]

log = logging.getLogger(__name__)

# Seconds the running jobs get to end once we stop, before they are cancelled: what Quart gave them when
# they ran as its background tasks (BACKGROUND_TASK_SHUTDOWN_TIMEOUT).
GRACE = 5.0


class JobRunner:
    """Runs jobs started with ``start`` (``engine.jobs.Jobs``) until ``stop``.

    ``run`` reports started once jobs may be started, and returns after ``stop``, when every job has
    ended: the running ones get ``grace`` seconds, then are cancelled.

    Error handling: a job's exception is logged here, once, with its traceback, and ends only that job;
    the runner and the other jobs go on. Cancellation is never caught.
    """

    def __init__(self, *, grace: float = GRACE) -> None:
        self._grace = grace
        self._nursery: trio.Nursery | None = None
        self._stopping = trio.Event()

    def start(self, name: str, job: Job) -> None:
        if self._nursery is None or self._stopping.is_set():
            raise RuntimeError(f"cannot start job {name!r}: the job runner is not running")
        self._nursery.start_soon(self._run_job, name, job, name=f"job {name}")

    def stop(self) -> None:
        """Take no more jobs; give the running ones ``grace`` seconds, then cancel them."""
        self._stopping.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._stopping = trio.Event()  # a run after a crash takes jobs again (after stop there is none)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._stopping.wait()
                nursery.cancel_scope.deadline = trio.current_time() + self._grace
        finally:
            self._nursery = None

    async def _run_job(self, name: str, job: Job) -> None:
        # The task inherits the starting request's audit context; the request is recorded, the job's own
        # writes (progress, imported rows) are the engine's.
        attribute_task(None)
        try:
            await job()
        except* Exception as failed:  # Cancelled is a BaseException: it passes through
            errors = failed.exceptions
            log.error("job %s failed", name, exc_info=errors[0] if len(errors) == 1 else failed)
