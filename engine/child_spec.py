"""What a supervisor is told about a child, and what it raises when it gives up: ``ChildSpec`` with its
``Restart`` policy, and ``Escalation``. The actors build specs without needing the supervisor itself
(``engine/supervisor.py``), which also exports these names.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["ChildSpec", "Escalation", "Restart"]


class Restart(enum.StrEnum):
    PERMANENT = "permanent"  # restarted after any exit
    TRANSIENT = "transient"  # restarted after a crash only
    TEMPORARY = "temporary"  # never restarted


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child.

    ``run`` is called as ``run(task_status=...)`` (an actor's ``run`` method) and calls
    ``task_status.started()`` when ready; a value passed to ``started`` is ignored. ``stop`` is a
    graceful stop hook, e.g. closing the send side of the actor's inbox so that it drains and
    returns; with ``None`` the child is cancelled instead.
    """

    name: str
    run: Callable[..., Awaitable[object]]
    restart: Restart = Restart.PERMANENT
    stop: Callable[[], object] | None = None


class Escalation(Exception):
    """A child of ``supervisor`` exceeded its restart intensity; ``__cause__`` is its last error."""

    def __init__(self, supervisor: str, child: str) -> None:
        super().__init__(supervisor, child)  # args stay the constructor's, so it pickles
        self.supervisor = supervisor
        self.child = child

    def __str__(self) -> str:
        return f"child {self.child!r} of supervisor {self.supervisor!r} exceeded its restart intensity"
