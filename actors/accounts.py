"""``AccountsSupervisor``: one actor per connected provider account, started and stopped as accounts come and go.

It owns the reconciliation between what the store says should run (each *actor kind* lists its accounts)
and the children of one ``engine.supervisor.Supervisor``, woken by ``LISTEN`` on the kinds' channels with a
fallback poll. It does not poll any provider itself and knows no provider: a kind is one ``ActorKind``
entry (how to list its accounts, how to build an actor for one), and the composition root says which
kinds run (``meta_kind`` in ``meta_account.py``, the Spotify ones beside their actors).

How a kind plugs in::

    ActorKind(
        name="spotify-listener",                 # child names are "<name>:<account key>"
        accounts=list_listener_accounts,         # async () -> Iterable[Account]
        build=lambda account, lease: ListenerActor(..., lease=lease).run,   # run(task_status=...)
        channels=("listener_accounts",),         # NOTIFY channels that announce changes (wake-ups only)
    )

Reconciliation, for every kind, on every wake-up: an ``Account`` that is ``runnable`` gets a child if it
has none (or its child has ended, e.g. after ``needs_reauth``, and it is runnable again); a changed
``version`` (a re-connect with a fresh token) restarts the child; an account no longer listed
(disconnected) has its child stopped and forgotten; a listed account that is not runnable (needs
re-auth) has a running child stopped, and its last status stays in the registry.

Leases: several engine processes may share one database, so an account's actor runs only in the process
holding its lease (``LeaseKeeper``, ``engine.lease_plan``). Each reconciliation, at least once a renewal
interval, hands the runnable accounts to the keeper, which renews, releases past the fair share and claims;
a child runs for each held one, and one whose lease was released or lost is stopped. The accounts are listed
on a wake-up and every ``poll_interval``; a renewal in between hands over the last listing, and when it
changed nothing the children are not walked. While the database is
unreachable the children keep running until the keeper gives up (no renewal for ``ttl - renew_every``
seconds), then they stop, before another process can claim their accounts. A graceful stop releases every
lease once the children have stopped, so the others take over at once.

Isolation: children are TRANSIENT by default, so a crash restarts only that account's actor, after the
backoff. The default backoff (2 s doubling to 10 min) and intensity (5 restarts in 30 s) are chosen so
that one account's crash loop can never exceed the intensity: the delays alone spread 6 restarts over
more than 30 s. A crash-looping account thus backs off to one attempt per 5 to 10 minutes, visible as
``backing_off`` with its ``last_error``, and never escalates to take the others down.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import trio

from actors.lease_keeper import LeaseKeeper
from engine.backoff import Backoff, Intensity
from engine.heap import settle_heap
from engine.lease_plan import Lease
from engine.registry import ActorState, Registry
from engine.store import leases
from engine.store.database import Database
from engine.store.errors import StoreUnavailable
from engine.supervisor import ChildSpec, Restart, Supervisor

__all__ = ["Account", "AccountsSupervisor", "ActorKind"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """One account of a kind, as its ``accounts`` lister sees it now.

    ``key`` is stable and unique within the kind (an integration id). ``runnable`` False means the account
    exists but must not be polled (it needs re-authentication). A change of ``version`` restarts a running
    actor (the account was re-connected with new tokens). ``row`` is whatever ``build`` needs.
    """

    key: str
    organization_id: uuid.UUID
    runnable: bool = True
    version: object = None
    row: object = field(default=None, compare=False)


@dataclass(frozen=True)
class ActorKind:
    """One kind of account actor: how to list its accounts and how to build the actor of one.

    ``build(account, lease)`` returns the ``run(task_status=...)`` the supervisor calls; the actor should
    report itself under ``lease.name`` (its child name) in the registry and make its writes under ``lease``.
    ``channels`` are NOTIFY channels whose messages mean "the accounts may have changed".
    """

    name: str
    accounts: Callable[[], Awaitable[Iterable[Account]]]
    build: Callable[[Account, Lease], Callable[..., Awaitable[object]]]
    channels: tuple[str, ...] = ()
    restart: Restart = Restart.TRANSIENT


class AccountsSupervisor:
    """Runs one actor per connected account of every kind in ``kinds``, in that order.

    The kinds' actors send their samples wherever their kind says; we never touch those channels (the
    wiring code owns them). ``poll_interval`` is the fallback reconciliation period in seconds (LISTEN is
    only a wake-up). A reconciliation starts at most ``start_batch`` children, all at once, and the next
    one follows at once with the rest: thousands of accounts (a start, a hand-over) start in batches, with
    our leases renewed between them instead of expiring while the children start. The constructor does no
    I/O.
    """

    def __init__(
        self, db: Database, *, registry: Registry, kinds: Sequence[ActorKind], keeper: LeaseKeeper,
        poll_interval: float = 60.0,
        backoff: Backoff = Backoff(base=2.0, factor=2.0, cap=600.0),  # noqa: B008 -- frozen
        intensity: Intensity = Intensity(max_restarts=5, period=30.0),  # noqa: B008 -- frozen
        rng: random.Random | None = None, name: str = "accounts", start_batch: int = 500, freeze_after: int = 100,
    ) -> None:
        self._db, self._registry, self._poll_interval = db, registry, poll_interval
        self._start_batch, self._freeze_after = start_batch, freeze_after
        self._keeper = keeper
        self._kinds = tuple(kinds)
        names = [kind.name for kind in self._kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate actor kinds in {names!r}")
        self._supervisor = Supervisor(name, registry, backoff=backoff, intensity=intensity, rng=rng)
        # child name → (kind name, account version, lease token)
        self._children: dict[str, tuple[str, object, int]] = {}
        # The last listing (child name → its kind and account), when it was made, and what we held after it.
        self._listed: dict[str, tuple[ActorKind, Account]] | None = None
        self._listed_at = -math.inf
        self._held: dict[str, int] = {}
        self._wake = trio.Event()
        self._stop = trio.Event()
        self._listening = trio.CancelScope()

    @property
    def children(self) -> list[str]:
        """The names of the children we run (or that ended by themselves and stay visible), sorted."""
        return sorted(self._children)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start an actor per runnable account whose lease we hold, report started, then follow changes and
        renew the leases until ``stop()``.

        Returns after ``stop()`` once every child has stopped (in reverse start order) and the leases are
        released. Raises the inner supervisor's ``Escalation`` (which our defaults make impossible for one
        account) and the accounts listing's ``StoreError``s other than the database being unreachable, for
        our own supervisor to restart us.
        """
        self._listening = trio.CancelScope()  # a scope serves one run; our supervisor may run us again
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen_all)  # before the first listing, so no change falls between
            await nursery.start(self._supervisor.run)
            await self._reconcile()
            task_status.started()
            while not self._stop.is_set():
                # Renew in time, and after failed renewals check again no later than the moment to give up.
                next_in = min(self._poll_interval, self._keeper.timings.renew_every, self._keeper.until_give_up())
                with trio.move_on_after(max(next_in, 0)):
                    await self._wake.wait()
                woken, self._wake = self._wake.is_set(), trio.Event()
                if not self._stop.is_set():
                    await self._reconcile(relist=woken)
            self._listening.cancel()
            self._supervisor.stop()
        await self._keeper.leave()

    def stop(self) -> None:
        """Ask for a graceful stop and return at once (a ``ChildSpec`` stop hook)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Reconcile soon (what a NOTIFY does)."""
        self._wake.set()

    # ---- following changes ---------------------------------------------------------------------------

    async def _listen_all(self) -> None:
        channels = sorted({leases.LEASES_CHANNEL} | {channel for kind in self._kinds for channel in kind.channels})
        with self._listening:
            async with trio.open_nursery() as nursery:
                for channel in channels:
                    nursery.start_soon(functools.partial(self._db.wake_on_notify, channel, self._woken,
                                                         retry=self._poll_interval))

    def _woken(self) -> None:
        self._wake.set()

    async def _reconcile(self, *, relist: bool = True) -> None:
        """List the accounts (when ``relist``, or when the last listing is ``poll_interval`` old), settle the
        leases and converge the children. A renewal that changed nothing, with the listing of before, costs
        the renewal only: with 20,000 accounts, listing and walking them all every renewal blocked the
        process's actors for a large part of a second each time."""
        try:
            listed = self._listed
            if relist or listed is None or trio.current_time() - self._listed_at >= self._poll_interval:
                self._listed_at = trio.current_time()
                listed = {f"{kind.name}:{account.key}": (kind, account)
                          for kind in self._kinds for account in await kind.accounts()}
            held = await self._keeper.settle([name for name, (_, account) in listed.items() if account.runnable])
        except StoreUnavailable as exc:
            if self._keeper.give_up():
                log.warning("no lease renewed for %.0f s (%s); stopping every account actor before another "
                            "engine process takes them over", self._keeper.timings.give_up_after, exc)
                self._keeper.forget()
                self._held = {}
                for name in list(self._children):
                    await self._supervisor.stop_child(name)
                    del self._children[name]
            return
        if listed is self._listed and held == self._held:
            return
        self._listed, self._held = listed, held
        starts: list[tuple[ActorKind, str, Account, int]] = []
        for name, (kind, account) in listed.items():
            if name in held or not account.runnable:
                if await self._converge(kind, name, account, held.get(name, 0)):
                    starts.append((kind, name, account, held[name]))
            elif name in self._children:
                log.info("%s: its lease went to another engine process; stopping its actor here", name)
                await self._supervisor.stop_child(name)
                del self._children[name]
        for name in [n for n in self._children if n not in listed]:
            log.info("%s: account gone; stopping its actor", name)
            await self._supervisor.stop_child(name)
            del self._children[name]
        if self._stop.is_set():  # asked to stop while we listed: an actor started now would only be stopped
            return
        await self._start(starts[:self._start_batch])
        if len(starts) > self._start_batch:
            self._wake.set()  # the others at the next reconciliation, right after it renewed our leases

    async def _start(self, starts: list[tuple[ActorKind, str, Account, int]]) -> None:
        """Start these children at once: one after the other, each waiting for the previous one's first
        query (its token) behind the queries of those already polling, 20,000 took many minutes.

        After a batch of at least ``freeze_after`` starts, the heap is frozen (``engine.heap.settle_heap``: the
        new actors move out of the cyclic garbage collector's reach): they live as long as their accounts,
        and each full collection walked them all, stopping every actor for 1.5 to 3 s every few seconds
        while 20,000 of them started (bench/pipeline.py's real rows). Small batches (a label connecting an
        account) freeze nothing.
        """
        if not starts:
            return
        async with trio.open_nursery() as nursery:
            for kind, name, account, token in starts:
                self._children[name] = (kind.name, account.version, token)
                nursery.start_soon(self._supervisor.start_child, ChildSpec(
                    name, kind.build(account, Lease(name, token)), restart=kind.restart))
        if len(starts) >= self._freeze_after:
            settle_heap()

    async def _converge(self, kind: ActorKind, name: str, account: Account, token: int) -> bool:
        """Stop a child that must not run as it is; True when the account needs a child started."""
        known = self._children.get(name)
        status = self._registry.get(name)
        ended = status is None or status.state in (ActorState.STOPPED, ActorState.FAILED)
        if known is not None and not account.runnable and not ended:
            log.info("%s: account needs re-authentication; stopping its actor", name)
            await self._supervisor.stop_child(name)  # forgets the status: we write the last word ourselves
            last_error = status.last_error if status is not None else None
            self._registry.update(name, ActorState.STOPPED, last_error=last_error)
            self._registry.set_detail(name, {**(status.detail or {} if status is not None else {}),
                                             "state": "needs_reauth", "next_poll_at": None})
            return False
        if not account.runnable:
            return False
        if known is not None and known[1:] != (account.version, token) and not ended:
            log.info("%s: account re-connected, or its lease claimed anew; restarting its actor", name)
            await self._supervisor.stop_child(name)
            ended = True
        return known is None or ended
