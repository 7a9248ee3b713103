"""``LeaseKeeper``: the leases this engine process holds, kept in step with the table at each ``settle``.

It is a collaborator, not an actor of its own, of the accounts supervisor and of the singletons' runner
(``actors/singletons.py``), each with a keeper of its own: the owner calls ``settle`` with the names that
should run (every process's) once a renewal interval, and runs a child for each name ``settle`` returns.
``settle`` renews what we hold (a lease another process took while we stalled is lost), releases what the
plan says to give up (``engine.lease_plan``: past our fair share, or no longer wanted), and claims free ones
up to the share. Each held name comes with the fencing token its writes carry.

Timing belongs to the caller's loop; ``give_up`` says when the last successful renewal is so old that the
actors must stop before the lease can expire elsewhere (``LeaseTimings.give_up_after``).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence

import trio

from engine.lease_plan import LeaseTimings, plan_leases
from engine.store import leases
from engine.store import webhook_deliveries as deliveries
from engine.store.database import Database, StoreError
from engine.store.nodes import heartbeat, live_nodes_on

__all__ = ["LeaseKeeper", "release_dead_neighbours"]

log = logging.getLogger(__name__)

_RELEASE_TIMEOUT = 5.0


class LeaseKeeper:
    """The leases of engine process ``node_id`` (a registered node: ``engine.store.nodes.register_node``)."""

    def __init__(self, db: Database, node_id: uuid.UUID, timings: LeaseTimings = LeaseTimings()) -> None:  # noqa: B008 -- frozen
        self._db, self.node_id, self.timings = db, node_id, timings
        self._held: dict[str, int] = {}
        self._renewed_at: float | None = None  # trio time of the last successful settle

    @property
    def held(self) -> dict[str, int]:
        """What we hold now: name → fencing token."""
        return dict(self._held)

    async def settle(self, wanted: Sequence[str], *,
                     before_release: Callable[[tuple[str, ...]], Awaitable[None]] | None = None) -> dict[str, int]:
        """Renew, release and claim as the plan says; return what we hold afterwards. ``before_release`` is
        awaited with the names about to be released (a caller that must stop their work before another
        process may start it). Raises the store's errors (nothing changes in what we think we hold, except
        leases the renewal proved lost)."""
        started = trio.current_time()
        renewed = await leases.renew(self._db, self.node_id, self._held, self.timings.ttl)
        if lost := set(self._held) - renewed:
            log.warning("lost %d lease(s) to another engine process: %s", len(lost), ", ".join(sorted(lost)[:5]))
        self._held = {name: token for name, token in self._held.items() if name in renewed}
        # A process is alive while it renews: each renewal is a heartbeat, and one silent for a TTL (killed,
        # stalled, cut off) is counted out when its leases expire, so the others' share covers them at once.
        await heartbeat(self._db, self.node_id)
        processes = await leases.live_engine_count(self._db, within=self.timings.ttl)
        plan = plan_leases(self._held, wanted, processes)
        if plan.release:
            if before_release is not None:
                await before_release(plan.release)
            await leases.release(self._db, self.node_id, plan.release)
            for name in plan.release:
                del self._held[name]
        if plan.claim:
            free = [name for name in wanted if name not in self._held]
            self._held |= await leases.claim(self._db, self.node_id, free, self.timings.ttl, plan.claim)
        # Counted from before the renewal was sent: the database extended the leases no earlier than that.
        self._renewed_at = started
        return dict(self._held)

    def give_up(self) -> bool:
        """True when we hold leases but have not renewed them for ``give_up_after`` seconds: another process
        may claim them soon, so our actors must stop now."""
        return self.until_give_up() <= 0

    def until_give_up(self) -> float:
        """Seconds until ``give_up`` turns true if no renewal succeeds meanwhile (infinite holding nothing):
        the caller's next attempt must come no later."""
        if not self._held or self._renewed_at is None:
            return math.inf
        return self._renewed_at + self.timings.give_up_after - trio.current_time()

    def forget(self) -> None:
        """Drop what we hold without telling the table (we could not reach it): the leases expire there."""
        self._held.clear()

    async def leave(self, *, mine_only: bool = False) -> None:
        """Give the leases back and leave the processes that share the work (a graceful stop), so the others
        take over at once instead of a TTL later: every lease of our process, even one a failed call left
        behind, or with ``mine_only`` just those we hold (another keeper of our process still runs work under
        its own). Best effort, shielded and bounded: unreachable, the leases expire by themselves."""
        held, self._held = self._held, {}
        count = len(held)
        with trio.move_on_after(_RELEASE_TIMEOUT) as scope:
            scope.shield = True
            try:
                await leases.leave(self._db, self.node_id, list(held) if mine_only else None)
            except StoreError as exc:  # it only delays the hand-over to the TTL
                log.warning("could not release %d lease(s) (%s); they expire by themselves", count, exc)


async def release_dead_neighbours(db: Database, node_id: uuid.UUID) -> None:
    """Release at once the leases of engine processes of this host that are gone, and the webhook deliveries
    their dispatchers had claimed (a dispatcher's worker id is its node id), instead of a TTL later: a
    ``songtrack run`` restarted after a crash polls its accounts and sends their webhooks again without
    waiting. Gone means its pid runs no process, or is our own (a container's previous run, whose pid was
    ours too). A pid reused by another process looks alive: then the TTL frees its leases, as it does for a
    process on another host."""
    for other, pid in await live_nodes_on(db, socket.gethostname()):
        if other != node_id and not _running(pid):
            log.info("engine process %s (pid %d) of this host is gone; releasing its leases", other, pid)
            await leases.leave(db, other)
            await deliveries.release_claims(db, str(other))


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
