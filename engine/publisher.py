"""The status publisher: the actor that copies the supervision registry into
PostgreSQL so that `/v1/engine/status` is true in every process. Each actor's
``detail`` (``Registry.set_detail``) goes with it, so `/v1/integrations` can show
an account poller's state from any API worker.

It writes on change (coalesced to at most one write per ``min_interval``) and at
least every ``heartbeat`` seconds, which doubles as the node's liveness signal.
Each run writes every actor once, then only the actors that changed or are gone
since its previous write: with 20,000 account actors, each rewritten four times a
second, the publisher was the engine's and the database's busiest writer.
It owns no restart logic; a database outage crashes it and its supervisor
restarts it.
"""

from __future__ import annotations

import logging
import uuid

import trio

from engine.registry import ActorStatus, Registry
from engine.store import nodes
from engine.store.database import Database

__all__ = ["StatusPublisher"]

log = logging.getLogger(__name__)


class StatusPublisher:
    """Publishes for engine process ``node_id``, registered by the caller (``nodes.register_node``) before
    anything claims a lease in its name."""

    def __init__(
        self, db: Database, registry: Registry, node_id: uuid.UUID, *, heartbeat: float = 5.0,
        min_interval: float = 0.25,
    ) -> None:
        self._db, self._registry, self.node_id = db, registry, node_id
        self._heartbeat, self._min_interval = heartbeat, min_interval
        self._stopping = trio.Event()

    def stop(self) -> None:
        """Graceful stop: write the final picture, mark the node stopped, return."""
        self._stopping.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        node_id = self.node_id
        seen, published = await self._publish(node_id, None)
        task_status.started()
        while not self._stopping.is_set():
            with trio.move_on_after(self._heartbeat):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._cancel_on_change, seen, nursery.cancel_scope)
                    nursery.start_soon(self._cancel_on_stop, nursery.cancel_scope)
            seen, published = await self._publish(node_id, published)
            await trio.sleep(self._min_interval)
        # Shielded so the last write happens even when the shutdown deadline cancels us.
        with trio.move_on_after(5) as cleanup:
            cleanup.shield = True
            await self._publish(node_id, published)
            await nodes.mark_node_stopped(self._db, node_id)

    async def _publish(self, node_id: uuid.UUID,
                       published: dict[str, ActorStatus] | None) -> tuple[int, dict[str, ActorStatus]]:
        """Write what changed since ``published`` (what the previous write wrote; None: write everything);
        return the registry's version and statuses written."""
        version, now = self._registry.version, self._registry.by_name()
        if published is None:
            await nodes.publish_actors(self._db, node_id, list(now.values()))
        else:
            changed = [status for name, status in now.items() if published.get(name) is not status]
            gone = [name for name in published if name not in now]
            await nodes.publish_actors(self._db, node_id, changed, gone)
        return version, now

    async def _cancel_on_change(self, seen: int, scope: trio.CancelScope) -> None:
        await self._registry.wait_changed(seen)
        scope.cancel()

    async def _cancel_on_stop(self, scope: trio.CancelScope) -> None:
        await self._stopping.wait()
        scope.cancel()
