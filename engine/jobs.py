"""The seam between the API and the job runner of its process: ``Jobs``, how a route starts one-off work in
the background (a stream-report import, an export, a provider sync run) and answers at once.

It says nothing of how jobs are run or stopped: the runner (``actors.jobs``) and the composition root own
that. A job records its own progress and end in the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Job", "Jobs"]

Job = Callable[[], Awaitable[object]]


class Jobs(Protocol):
    """Starts background jobs; the API process's runner implements it."""

    def start(self, name: str, job: Job) -> None:
        """Run ``job()`` in the background and return at once; ``name`` names it in the logs.

        A job's exception is logged and ends only that job. Raises RuntimeError when the runner is not
        running (before it starts, or once it is stopping).
        """
