"""One-for-one supervision on trio, as in OTP: restart policies, backoff, restart intensity, escalation.

A supervisor owns its children's tasks and their entries in the :class:`~engine.registry.Registry`.
It does not know what a child does, and it sets no shutdown deadline: the caller's cancel scope does.

Error handling: an exception out of a child (unwrapped when it arrives as a one-exception group) is
logged here, once, with its traceback, and becomes a restart, a FAILED status, or an
:class:`Escalation` out of :meth:`Supervisor.run`. ``trio.Cancelled`` is never caught.
:class:`~engine.store.errors.StoreUnavailable` is not a crash: the child waits for the database
(WAITING_FOR_DATABASE), outside the restart intensity.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import trio

from engine.backoff import Backoff, Intensity
from engine.child_spec import ChildSpec, Escalation, Restart
from engine.logs import current_actor
from engine.metrics import ACTOR_RESTARTS, actor_kind
from engine.registry import ActorState, Registry, format_error
from engine.store.errors import only_unavailable

__all__ = ["ChildSpec", "Escalation", "Restart", "Supervisor"]

logger = logging.getLogger(__name__)

# Retries while the database is unavailable: between 1.5 and 3 s once the outage lasts, so that work
# resumes within a few seconds of its return without a stampede of reconnects.
DATABASE_BACKOFF = Backoff(base=0.5, cap=3.0)


class _Child:
    """The supervisor's bookkeeping for one child, for the lifetime of its task."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.scope = trio.CancelScope()  # covers every run and every backoff sleep
        self.done = trio.Event()
        self.running = False  # inside spec.run, where a stop hook can reach it
        self.stopping = False
        self.reported = False  # the task_status of start_child has been answered
        self.settled = False  # a final state (FAILED/STOPPED) is in the registry
        self.restarts = 0
        self.consecutive = 0  # crashes in a row, which drives the backoff
        self.waits = 0  # attempts in a row that found the database unavailable, which drive their backoff
        self.waiting = False  # the last attempt found the database unavailable
        self.restart_times: list[float] = []  # trio clock, pruned to the intensity period
        self.error: Exception | None = None  # the last attempt's crash, until handled


class _Status:
    """The ``task_status`` handed to a child's ``run``: it is fresh for every attempt."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started
        self._called = False

    def started(self, value: object = None) -> None:
        if self._called:
            raise RuntimeError("called 'started' twice on the same task status")
        self._called = True
        self._on_started()


class Supervisor:
    """Runs children one-for-one: a crashed child is restarted alone, its siblings keep running.

    Policies: PERMANENT children are restarted after any exit, TRANSIENT ones after a crash only,
    TEMPORARY ones never (a crash leaves them FAILED, a return STOPPED). Every restart waits
    ``backoff.delay(crashes_in_a_row, rng.random())`` seconds on the trio clock; the count of crashes in
    a row starts over when the child had run longer than ``intensity.period``. More restarts of one
    child than ``intensity`` allows mark it FAILED and make :meth:`run` raise :class:`Escalation`.

    A child that fails because the database is unavailable (``StoreUnavailable``, alone or as every
    error of a group) did not crash: it is WAITING_FOR_DATABASE and tried again after
    ``database_backoff``, for as long as the outage lasts. Those retries count neither toward the
    intensity nor as restarts, and are logged once per outage, not once per retry.
    """

    def __init__(
        self,
        name: str,
        registry: Registry,
        *,
        children: Sequence[ChildSpec] = (),
        backoff: Backoff = Backoff(),  # noqa: B008 -- frozen dataclass, safe to share
        intensity: Intensity = Intensity(),  # noqa: B008 -- frozen dataclass, safe to share
        database_backoff: Backoff = DATABASE_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in {names!r}")
        self.name = name
        self._registry = registry
        self._initial = tuple(children)
        self._backoff = backoff
        self._intensity = intensity
        self._database_backoff = database_backoff
        self._rng = rng if rng is not None else random.Random()
        self._children: dict[str, _Child] = {}  # in start order, which reversed is the stop order
        self._nursery: trio.Nursery | None = None
        self._stopping = False
        self._stop_requested = trio.Event()
        self._escalation: tuple[Escalation, Exception | None] | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the initial children in order, then report started; return after :meth:`stop`.

        Each initial child is awaited until it reports started or its first attempt ends. ``run``
        returns once :meth:`stop` was called and every child has finished. Raises
        :class:`Escalation` (after cancelling every other child) when a child exceeds the restart
        intensity, and RuntimeError if this supervisor is already running. It can be run again
        afterwards, which is how a parent supervisor restarts it.
        """
        if self._nursery is not None:
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._children, self._escalation = {}, None
        self._stopping = self._stop_requested.is_set()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._start_initial()
                task_status.started()
                await self._stop_requested.wait()
                await self._stop_all()
        finally:
            self._nursery = None
            self._stop_requested = trio.Event()  # a stop request is used up by the run it ended
        if self._escalation is not None:
            escalation, cause = self._escalation
            raise escalation from cause

    async def start_child(self, spec: ChildSpec) -> None:
        """Add and start a child while running (e.g. an account actor on connect).

        Returns once the child reported started, or once its first attempt ended (it then backs off
        and is restarted per its policy). A finished child's name may be reused. Raises ValueError
        if a live child has that name, RuntimeError if the supervisor is not running or stopping.
        """
        nursery = self._nursery
        if nursery is None or self._stopping:
            raise RuntimeError(f"supervisor {self.name!r} is not running or is stopping")
        old = self._children.get(spec.name)
        if old is not None and not old.done.is_set():
            raise ValueError(f"supervisor {self.name!r} already has a child named {spec.name!r}")
        self._children.pop(spec.name, None)  # re-inserted last: the newest child stops first
        child = self._children[spec.name] = _Child(spec)
        await nursery.start(self._supervise, child)

    async def stop_child(self, name: str) -> None:
        """Stop one child gracefully (stop hook, or cancel) and wait for it; it is not restarted.

        A child in a backoff sleep is cancelled at once. Afterwards it is forgotten by the registry.
        Raises KeyError if this supervisor has no child ``name``.
        """
        child = self._children[name]
        await self._stop_one(child)
        if self._children.get(name) is child:
            del self._children[name]
        self._registry.forget(name)

    def stop(self) -> None:
        """Ask for a graceful shutdown and return at once; :meth:`run` returns when it is done.

        Children are stopped one by one in reverse start order (a producer started after its
        consumer stops first, so the consumer then drains to EndOfChannel), each by its stop hook
        or by cancellation, and from now on none is restarted. No deadline applies here: wrap
        ``run`` in a cancel scope with a deadline to abandon whatever is still running then.
        """
        self._stopping = True
        self._stop_requested.set()

    async def _start_initial(self) -> None:
        for spec in self._initial:
            if self._stopping:  # stop() or an escalation came during startup
                return
            await self.start_child(spec)

    async def _stop_all(self) -> None:
        for child in reversed(list(self._children.values())):
            await self._stop_one(child)

    async def _stop_one(self, child: _Child) -> None:
        child.stopping = True
        if child.running and child.spec.stop is not None:
            self._call_stop_hook(child)
        elif not child.done.is_set():
            child.scope.cancel()  # also the way out of a backoff sleep, where no hook can help
        await child.done.wait()

    def _call_stop_hook(self, child: _Child) -> None:
        assert child.spec.stop is not None
        try:
            child.spec.stop()
        except Exception:
            logger.exception("stop hook of %r failed; cancelling it instead", child.spec.name)
            child.scope.cancel()

    async def _supervise(self, child: _Child, *, task_status: trio.TaskStatus[None]) -> None:
        # Set in this task only: trio gives each task a copy of the context, so the name reaches
        # every log line of the child and of the tasks it spawns, and nothing else.
        current_actor.set(child.spec.name)
        try:
            with child.scope:
                await self._keep_alive(child, task_status)
        finally:
            self._settle(child)
            child.done.set()
        if not child.reported:  # stopped before its first attempt ended: start_child still returns
            child.reported = True
            task_status.started()

    async def _keep_alive(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        while True:
            if not child.waiting:  # a retry for the database shows that state until it reports started
                self._registry.update(child.spec.name, ActorState.STARTING, restarts=child.restarts)
            began = trio.current_time()
            await self._attempt(child, task_status)
            delay = self._after_exit(child, ran_for=trio.current_time() - began)
            if not child.reported:
                child.reported = True
                task_status.started()
            if delay is None:
                return
            await trio.sleep(delay)
            if self._stopping or child.stopping:  # stop() came while we slept, before its turn
                return
            child.restarts += 0 if child.waiting else 1

    async def _attempt(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        status = _Status(lambda: self._on_started(child, task_status))
        child.running = True
        try:
            await child.spec.run(task_status=status)
        except* Exception as group:  # Cancelled is a BaseException: it passes through, unwrapped
            child.error = _unwrap(group)
        finally:
            child.running = False

    def _on_started(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        self._registry.update(child.spec.name, ActorState.RUNNING, restarts=child.restarts)
        if not child.reported:
            child.reported = True
            task_status.started()

    def _after_exit(self, child: _Child, *, ran_for: float) -> float | None:
        """Decide what follows an attempt: return the backoff delay, or None for no restart."""
        error, child.error = child.error, None
        if self._stopping or child.stopping or not _restarts(child.spec.restart, error):
            self._give_up(child, error)
            return None
        child.waits = child.waits + 1 if child.waiting and ran_for <= self._intensity.period else 0
        child.waiting = error is not None and only_unavailable(error)
        if child.waiting:
            return self._wait_for_database(child, error)
        now = trio.current_time()
        child.consecutive = 1 if ran_for > self._intensity.period else child.consecutive + 1
        horizon = now - self._intensity.period
        child.restart_times = [at for at in child.restart_times if at > horizon] + [now]
        if self._intensity.exceeded(child.restart_times, now):
            self._escalate(child, error)
            return None
        return self._back_off(child, error)

    def _give_up(self, child: _Child, error: Exception | None) -> None:
        if error is None:
            self._record(child, ActorState.STOPPED)
            return
        logger.error(
            "%s crashed; not restarted (%s)",
            child.spec.name,
            "stopping" if self._stopping or child.stopping else child.spec.restart,
            exc_info=error,
            extra={"supervisor": self.name},
        )
        self._record(child, ActorState.FAILED, error)

    def _back_off(self, child: _Child, error: Exception | None) -> float:
        delay = self._backoff.delay(child.consecutive, self._rng.random())
        at = self._registry.now() + timedelta(seconds=delay)
        self._record(child, ActorState.BACKING_OFF, error, next_restart_at=at)
        ACTOR_RESTARTS.labels(actor_kind(child.spec.name)).inc()
        # A permanent child that returns is restarted too, but a return is not an error.
        log = logger.error if error is not None else logger.warning
        log(
            "%s %s; restart %d in %.3fs",
            child.spec.name,
            "crashed" if error is not None else "returned",
            child.restarts + 1,
            delay,
            exc_info=error,
            extra={"supervisor": self.name},
        )
        return delay

    def _wait_for_database(self, child: _Child, error: Exception | None) -> float:
        delay = self._database_backoff.delay(child.waits + 1, self._rng.random())
        at = self._registry.now() + timedelta(seconds=delay)
        self._record(child, ActorState.WAITING_FOR_DATABASE, error, next_restart_at=at)
        # Once per outage: an outage is a run of attempts in a row that found the database unavailable,
        # none of which ran longer than the intensity period. No traceback: nothing is broken here.
        log = logger.warning if child.waits == 0 else logger.debug
        log("%s is waiting for the database (%s); retrying in %.3fs", child.spec.name, error, delay,
            extra={"supervisor": self.name})
        return delay

    def _escalate(self, child: _Child, error: Exception | None) -> None:
        logger.error(
            "%s crashed; more than %d restarts in %ss, escalating",
            child.spec.name,
            self._intensity.max_restarts,
            self._intensity.period,
            exc_info=error,
            extra={"supervisor": self.name},
        )
        self._record(child, ActorState.FAILED, error)
        if self._escalation is None:
            self._escalation = (Escalation(self.name, child.spec.name), error)
        self._stopping = True
        # Children still being started live in their starter's context, outside the nursery.
        for other in self._children.values():
            other.scope.cancel()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _settle(self, child: _Child) -> None:
        """Write a final state for a child whose task ends without one (it was cancelled)."""
        if child.settled:
            return
        if child.error is not None:  # it crashed while being cancelled
            self._give_up(child, child.error)
        else:
            self._record(child, ActorState.STOPPED)

    def _record(
        self,
        child: _Child,
        state: ActorState,
        error: Exception | None = None,
        *,
        next_restart_at: datetime | None = None,
    ) -> None:
        name, restarts = child.spec.name, child.restarts
        child.settled = state in (ActorState.FAILED, ActorState.STOPPED)
        if error is None:  # keep the last error: a restarted child still shows why it crashed
            self._registry.update(name, state, restarts=restarts, next_restart_at=next_restart_at)
        else:
            last_error = format_error(error)
            self._registry.update(
                name, state, restarts=restarts, last_error=last_error, next_restart_at=next_restart_at
            )


def _restarts(policy: Restart, error: Exception | None) -> bool:
    if policy is Restart.PERMANENT:
        return True
    return policy is Restart.TRANSIENT and error is not None


def _unwrap(exc: Exception) -> Exception:
    """Peel one-exception groups (from nurseries inside the child) down to the real error."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
