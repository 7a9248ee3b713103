"""Where the processes of one ``songtrack run`` keep their Prometheus figures, so that one scrape of any of
them shows all: prometheus_client's multiprocess mode, each process writing its counters, gauges and
histograms to files of its own in ``<data_dir>/metrics``, which ``/metrics`` adds up.

Why this design: with ``--workers N`` the kernel hands each scrape to any one API worker, while the engine's
actors (webhook deliveries, restarts) count in the parent; files the scraped process reads are the one way
that needs no protocol between the processes. prometheus_client picks its storage when it is first imported,
from ``PROMETHEUS_MULTIPROC_DIR``, so the command sets that before importing the service (``songtrack.cli``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from config import Settings, data_path

__all__ = ["MULTIPROC_ENV", "metrics_directory"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory(command: str, settings: Settings, environ: Mapping[str, str]) -> Path | None:
    """The directory ``command``'s process records into: for ``run``, ``<data_dir>/metrics``, emptied (files
    of an earlier run would count again); for an ``api`` worker, the one its parent gave it in ``environ``;
    for ``api --workers N``, the parent of such workers, ``<data_dir>/metrics-api-<port>``, emptied (its own:
    an ``api`` beside a ``run`` on one machine may share the data directory, never the port); otherwise None
    (a process of its own, scraped alone, keeps its figures in memory)."""
    if command == "api" and environ.get(MULTIPROC_ENV):
        return Path(environ[MULTIPROC_ENV])
    if command == "api" and settings.server.workers > 1:
        return _emptied(data_path(settings) / f"metrics-api-{settings.server.port}")
    return _emptied(data_path(settings) / "metrics") if command == "run" else None


def _emptied(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
