"""One asyncio (uvloop) event loop in a dedicated thread, and the bridge that lets trio tasks await
coroutines on it.

It owns the thread and the hand-over of outcomes between the two loops; it knows nothing of asyncpg or
SQL (that is ``database.py``). See STACK.md, "asyncpg from trio", for why this design beat trio-asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar, TypeVarTuple, Unpack

import outcome
import trio
import uvloop

__all__ = ["AsyncioThread", "BridgeClosed", "open_asyncio_thread"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_START_TIMEOUT = 10.0


class BridgeClosed(RuntimeError):
    """The asyncio thread is not running (not started, or stopped), so the call could not complete."""


class _Call:
    """One coroutine in flight: created in trio, run as an asyncio task, its outcome handed back to trio."""

    __slots__ = ("aio_task", "coro", "raise_cancel", "task", "token")

    def __init__(
        self, coro: Coroutine[Any, Any, object], task: trio.lowlevel.Task, token: trio.lowlevel.TrioToken
    ) -> None:
        self.coro = coro
        self.task = task
        self.token = token
        self.aio_task: asyncio.Task[object] | None = None
        # Set (in the trio thread) once trio asked to abort; read only in the trio thread.
        self.raise_cancel: Callable[[], NoReturn] | None = None


class AsyncioThread:
    """A thread running one uvloop event loop; ``call`` runs a coroutine there while the trio task waits.

    Resource handling: ``start()`` blocks until the loop runs; ``close()`` stops the loop (cancelling whatever
    still runs there), joins the thread and fails every call still in flight with ``BridgeClosed``. Both are
    synchronous; from trio use ``open_asyncio_thread()``, which runs them in a worker thread.
    """

    def __init__(self, *, name: str = "asyncio-store") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._calls: set[_Call] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``close()``."""
        return self._loop is not None and not self._closing and self._thread is not None

    def start(self) -> None:
        """Start the thread and return once its loop runs. Raises ``BridgeClosed`` if it cannot start."""
        ready = threading.Event()
        # daemon: a process that dies without closing us must still be able to exit.
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or self._loop is None:
            raise BridgeClosed("the asyncio thread did not start")

    def close(self) -> None:
        """Stop the loop, join the thread and fail the calls still in flight. Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        if self._loop is not None and self._stop is not None:
            # RuntimeError: the loop already died (only a bug does that); join anyway.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            leftovers, self._calls = self._calls, set()
        for call in leftovers:
            if call.aio_task is None:
                call.coro.close()  # never started: close it so Python does not warn "never awaited"
            self._hand_back(call, None)

    async def call(self, fn: Callable[[Unpack[Ts]], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """Run ``fn(*args)`` on the asyncio loop and return its result (or raise its exception) in trio.

        Error handling: if trio cancels us we cancel the asyncio task and still wait until it has really
        finished, so whatever it held (a connection mid-query) is back in a known state; then we raise
        ``trio.Cancelled``, unless the task finished with a real result anyway, which we then deliver.
        Raises ``BridgeClosed`` when the thread is not running.
        """
        task = trio.lowlevel.current_task()
        token = trio.lowlevel.current_trio_token()
        with self._lock:
            loop = self._loop
            if loop is None or self._closing:
                raise BridgeClosed("the asyncio thread is not running")
            call = _Call(fn(*args), task, token)
            self._calls.add(call)
            # FIFO: this spawn always runs in the loop before any cancel that abort() schedules.
            loop.call_soon_threadsafe(self._spawn, call)

        def abort(raise_cancel: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
            call.raise_cancel = raise_cancel
            # RuntimeError: the loop is closed, and close() hands back every call still in flight.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._cancel, call)
            # FAILED: we are rescheduled only when the asyncio task is really done (see _finished).
            return trio.lowlevel.Abort.FAILED

        result: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return result

    # --- inside the asyncio thread -------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._serve(ready))
        # Leaving the Runner cancelled every task left (asyncpg internals, calls in flight) and waited
        # for them.

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        ready.set()
        await self._stop.wait()

    def _spawn(self, call: _Call) -> None:
        assert self._loop is not None
        call.aio_task = self._loop.create_task(call.coro)
        call.aio_task.add_done_callback(functools.partial(self._finished, call))

    @staticmethod
    def _cancel(call: _Call) -> None:
        # On the next turn, not this one: a task cancelled before its first step never runs its body, so a
        # coroutine handed a resource (a connection to commit and release) would skip its ``finally``. The
        # task's first step was queued by ``_spawn``, before us, so it runs first.
        if call.aio_task is not None:
            asyncio.get_running_loop().call_soon(call.aio_task.cancel)

    def _finished(self, call: _Call, aio_task: asyncio.Task[object]) -> None:
        with self._lock:
            if call not in self._calls:  # close() already handed it back
                return
            self._calls.discard(call)
        result = None if aio_task.cancelled() else outcome.capture(aio_task.result)
        self._hand_back(call, result)

    # --- back to trio ----------------------------------------------------------------------------------

    @staticmethod
    def _hand_back(call: _Call, result: outcome.Outcome[object] | None) -> None:
        with contextlib.suppress(trio.RunFinishedError):  # trio has exited: nobody is left to wake up
            call.token.run_sync_soon(_resume, call, result)


def _resume(call: _Call, result: outcome.Outcome[object] | None) -> None:
    """In the trio thread: wake the parked task. ``None`` means the asyncio task ended cancelled."""
    if result is None:
        if call.raise_cancel is not None:
            result = outcome.capture(call.raise_cancel)
        else:  # cancelled by the loop shutting down, not by trio
            result = outcome.Error(BridgeClosed("the asyncio thread stopped before the call finished"))
    trio.lowlevel.reschedule(call.task, result)


@asynccontextmanager
async def open_asyncio_thread(*, name: str = "asyncio-store") -> AsyncIterator[AsyncioThread]:
    """Start an ``AsyncioThread`` and stop and join it on exit, also on error or cancellation."""
    thread = AsyncioThread(name=name)
    try:
        await trio.to_thread.run_sync(thread.start)
        yield thread
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(thread.close)
