"""``Singletons``: the engine's children that must run in one process at a time (the housekeeper, the stream
counter, the daily reporter, the aggregator's sweep, the rules' schedule, the sandbox's listens), each run
in this process only while it holds the lease named ``singleton:<child name>``.

It elects, nothing else: what a singleton does, and how its restarts go, are the child's and its
supervisor's. The lease protocol is the account actors' (``LeaseKeeper``, ``engine.lease_plan``, and
docs/scaling.md "Singletons"): renewed every ``renew_every`` seconds and on a NOTIFY of released leases,
claimed up to a fair share of the live processes (so the singletons spread over the processes), a child
stopped *before* its lease is released, every child stopped once no renewal succeeded for ``ttl -
renew_every`` seconds (before another process can claim), and every lease released on a graceful stop,
with a NOTIFY, so a survivor takes over at once.

In the registry a singleton shows only in the process that runs it; our own status's ``detail`` says, for
each, ``running`` here or ``standby``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import trio

from actors.lease_keeper import LeaseKeeper
from engine.registry import Registry
from engine.store import leases
from engine.store.database import Database
from engine.store.errors import StoreUnavailable
from engine.supervisor import ChildSpec, Supervisor

__all__ = ["SINGLETONS", "Singletons", "lease_name"]

log = logging.getLogger(__name__)

SINGLETONS = "singletons"  # its name in the supervision tree and in /v1/engine/status


def lease_name(child: str) -> str:
    """The lease a singleton child named ``child`` runs under."""
    return f"singleton:{child}"


class Singletons:
    """Runs each of ``specs`` only while ``keeper`` holds its lease (``lease_name(spec.name)``), under a
    supervisor of its own that reports to ``registry``. The constructor does no I/O."""

    def __init__(self, db: Database, *, registry: Registry, specs: Sequence[ChildSpec], keeper: LeaseKeeper,
                 name: str = SINGLETONS) -> None:
        self._db, self._registry, self._keeper, self.name = db, registry, keeper, name
        self._specs = {lease_name(spec.name): spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError(f"duplicate singleton names in {[spec.name for spec in specs]!r}")
        self._supervisor = Supervisor(name, registry)
        self._running: set[str] = set()  # lease names whose child runs here
        self._wake = trio.Event()
        self._stop = trio.Event()
        self._listening = trio.CancelScope()

    def child_spec(self) -> ChildSpec:
        return ChildSpec(self.name, self.run, stop=self.stop)

    @property
    def running(self) -> list[str]:
        """The singletons running here (child names), sorted."""
        return sorted(self._specs[name].name for name in self._running)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Claim, start what we hold, report started; then renew, hand over and take over until ``stop()``.

        Returns after ``stop()`` once our singletons have stopped (in reverse start order) and their leases
        are released. Raises the inner supervisor's ``Escalation`` and the store's errors other than the
        database being unreachable, for our own supervisor to restart us (the keeper keeps what we hold, so
        the next run renews it).
        """
        self._listening, self._running = trio.CancelScope(), set()  # one run each; our supervisor may rerun us
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen)
            await nursery.start(self._supervisor.run)
            await self._settle()
            task_status.started()
            while not self._stop.is_set():
                # Renew in time, and after failed renewals check again no later than the moment to give up.
                next_in = min(self._keeper.timings.renew_every, self._keeper.until_give_up())
                with trio.move_on_after(max(next_in, 0)):
                    await self._wake.wait()
                self._wake = trio.Event()
                if not self._stop.is_set():
                    await self._settle()
            self._listening.cancel()
            self._supervisor.stop()
        # Our process leaves: the survivors, woken, count one process fewer and claim what we held.
        await self._keeper.leave(mine_only=True)

    def stop(self) -> None:
        """Ask for a graceful stop and return at once (a ``ChildSpec`` stop hook)."""
        self._stop.set()
        self._wake.set()

    async def _listen(self) -> None:
        with self._listening:
            await self._db.wake_on_notify(leases.LEASES_CHANNEL, self._woken, retry=self._keeper.timings.renew_every)

    def _woken(self) -> None:
        self._wake.set()  # the current Event: ``run`` replaces it after each wake-up

    async def _settle(self) -> None:
        try:
            held = await self._keeper.settle(list(self._specs), before_release=self._stop_children)
        except StoreUnavailable as exc:
            if self._keeper.give_up():
                log.warning("no lease renewed for %.0f s (%s); stopping every singleton before another engine "
                            "process takes them over", self._keeper.timings.give_up_after, exc)
                self._keeper.forget()
                await self._stop_children(self._running)
                self._report()
            return
        await self._stop_children(name for name in self._running if name not in held)  # lost while we stalled
        for name, spec in self._specs.items():
            if name in held and name not in self._running:
                self._running.add(name)
                await self._supervisor.start_child(spec)
        self._report()

    async def _stop_children(self, names: Iterable[str]) -> None:
        for name in list(names):
            if name in self._running:
                self._running.discard(name)
                await self._supervisor.stop_child(self._specs[name].name)  # and forgets its status

    def _report(self) -> None:
        self._registry.set_detail(self.name, {spec.name: "running" if name in self._running else "standby"
                                              for name, spec in self._specs.items()})
