"""Wake-ups for the Meta account actors when a write to Meta is queued (``engine.store.meta_writes``), so a
pause or a budget reaches Meta within seconds instead of at the next poll (15 minutes).

In-process: the aggregator (a guardrail's pause) and the rule evaluator (a rule's action) call ``wake`` once
their transaction has committed; every Meta account actor of the organization waiting in ``wait`` wakes
and applies the organization's pending writes. A write queued by another process is applied at the next
poll, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import trio

__all__ = ["MetaWriteSignals"]


class MetaWriteSignals:
    """One event per organization, replaced at each wake so that a waiter wakes once per ``wake``."""

    def __init__(self) -> None:
        self._events: dict[uuid.UUID, trio.Event] = {}

    def wake(self, org_ids: Iterable[uuid.UUID]) -> None:
        """Writes were queued for these organizations (and committed). Never blocks."""
        for org_id in set(org_ids):
            event = self._events.pop(org_id, None)
            if event is not None:
                event.set()

    async def wait(self, org_id: uuid.UUID) -> None:
        """Until ``wake`` names the organization."""
        event = self._events.get(org_id)
        if event is None:
            event = self._events[org_id] = trio.Event()
        await event.wait()
