"""The live status of every supervised actor (running, backing off, failed…), kept in memory.

The supervisor writes it and readers (the API, a publisher actor) take snapshots or wait for a
change. It does not persist anything and decides nothing: restart policy lives in ``supervisor.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

import msgspec
import trio

from engine.clock import utc_now

__all__ = ["ActorState", "ActorStatus", "Detail", "Registry", "format_error"]

_MAX_ERROR_CHARS = 500


class ActorState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    WAITING_FOR_DATABASE = "waiting_for_database"  # not a crash: retried until the database is back
    FAILED = "failed"
    STOPPED = "stopped"


# What an actor says about its own work, beyond the supervisor's view (e.g. an account poller's
# ``{"state": "parked", "parked_until": "...", "consecutive_failures": 3}``): flat and JSON-ready.
Detail = dict[str, str | int | float | bool | None]


class ActorStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One actor's status; ``since`` is when it entered ``state`` (wall clock, the registry's ``now``).

    ``detail`` is the actor's own account of itself (``Registry.set_detail``), kept across the
    supervisor's updates; None for actors that say nothing.
    """

    name: str
    state: ActorState
    restarts: int = 0
    last_error: str | None = None
    next_restart_at: datetime | None = None
    since: datetime
    detail: Detail | None = None


class _Keep(enum.Enum):
    KEEP = enum.auto()


def format_error(exc: BaseException) -> str:
    """Return ``"TypeName: message"`` on one line, cut to about 500 characters, for ``last_error``."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class Registry:
    """Actor statuses by name, with a ``version`` that increases on every change.

    Readers that want every change call ``await wait_changed(seen)`` in a loop instead of polling.
    """

    def __init__(self, *, now: Callable[[], datetime] = utc_now) -> None:
        self.now = now
        self.version = 0
        self._statuses: dict[str, ActorStatus] = {}
        self._changed = trio.Event()

    def update(
        self,
        name: str,
        state: ActorState,
        *,
        restarts: int | None = None,
        last_error: str | _Keep | None = _Keep.KEEP,
        next_restart_at: datetime | None = None,
    ) -> None:
        """Record ``name`` in ``state``, creating it if new.

        ``restarts=None`` and an omitted ``last_error`` keep the previous values, so a running actor
        still shows why it last crashed. ``next_restart_at`` is replaced on every call (it only means
        something while backing off). ``since`` moves only when the state changes.
        """
        old = self._statuses.get(name)
        new = ActorStatus(
            name=name,
            state=state,
            restarts=restarts if restarts is not None else (old.restarts if old else 0),
            last_error=(old.last_error if old else None) if last_error is _Keep.KEEP else last_error,
            next_restart_at=next_restart_at,
            since=old.since if old is not None and old.state == state else self.now(),
            detail=old.detail if old is not None else None,
        )
        if new != old:
            self._statuses[name] = new
            self._bump()

    def set_detail(self, name: str, detail: Detail | None) -> None:
        """Replace ``name``'s ``detail``, keeping everything else; an unknown ``name`` is recorded RUNNING
        (an actor reports on itself only while it runs)."""
        old = self._statuses.get(name)
        if old is None:
            new = ActorStatus(name=name, state=ActorState.RUNNING, since=self.now(), detail=detail)
        else:
            new = msgspec.structs.replace(old, detail=detail)
        if new != old:
            self._statuses[name] = new
            self._bump()

    def forget(self, name: str) -> None:
        """Drop ``name``; a no-op if it is unknown."""
        if self._statuses.pop(name, None) is not None:
            self._bump()

    def get(self, name: str) -> ActorStatus | None:
        return self._statuses.get(name)

    def snapshot(self) -> list[ActorStatus]:
        """Return every status, sorted by name."""
        return sorted(self._statuses.values(), key=lambda status: status.name)

    def by_name(self) -> dict[str, ActorStatus]:
        """Every status by name, unsorted (a copy). A status is immutable and replaced only when it changes,
        so a reader that kept an earlier copy finds what changed since by identity."""
        return dict(self._statuses)

    async def wait_changed(self, seen_version: int) -> int:
        """Return the current ``version`` as soon as it is greater than ``seen_version``.

        Returns at once if it already is. Changes in between are coalesced: take a ``snapshot()``.
        """
        if self.version > seen_version:
            await trio.lowlevel.checkpoint()  # trio's rule: every async call is a checkpoint
        while self.version <= seen_version:
            await self._changed.wait()
        return self.version

    def _bump(self) -> None:
        self.version += 1
        # A fresh Event per change: waiters of this change wake, later callers wait for the next.
        self._changed.set()
        self._changed = trio.Event()
