"""SQL for manual sync runs (``sync_runs``): starting one per organization and provider at a time, its
progress and heartbeat, its end, and the reads and writes a run does on the catalogue that
``engine.store.tracks`` and ``engine.store.campaigns`` do not offer (the work lists, Meta's status).

Times are the database's (``now()``): the heartbeat and the staleness test compare clocks of one machine.
A run left ``running`` by a process that died is ended ``failed`` with ``INTERRUPTED`` once its heartbeat
is older than ``stale_after``. It does not call a provider.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from engine.store.rows import Queries, as_struct, maybe_struct, row_count

__all__ = [
    "INTERRUPTED", "RunStatus", "SyncProvider", "SyncRun", "expire_stale", "finish_run", "latest_run",
    "record_progress", "set_total", "spotify_tracks",
    "start_run",
]  # fmt: skip

SyncProvider = Literal["meta", "spotify"]
RunStatus = Literal["running", "succeeded", "failed"]
INTERRUPTED = "interrupted"
_COLUMNS = "id, organization_id, provider, status, total, done, error, started_at, heartbeat_at, finished_at"


class SyncRun(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    provider: SyncProvider
    status: RunStatus
    total: int
    done: int
    error: str | None
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None


async def start_run(q: Queries, org_id: uuid.UUID, provider: SyncProvider,
                    requested_by: uuid.UUID | None) -> tuple[SyncRun, bool]:
    """A new running run and True; or, while one is already running, that one and False.

    The partial unique index keeps one running run per organization and provider; we retry when the
    running one ends between our insert and our read.
    """
    while True:
        row = await q.fetchrow(
            "INSERT INTO sync_runs (organization_id, provider, requested_by) VALUES ($1, $2, $3)"
            " ON CONFLICT (organization_id, provider) WHERE status = 'running' DO NOTHING"
            f" RETURNING {_COLUMNS}", org_id, provider, requested_by)
        if row is not None:
            return as_struct(row, SyncRun), True
        row = await q.fetchrow(f"SELECT {_COLUMNS} FROM sync_runs WHERE organization_id = $1 AND provider = $2"
                               " AND status = 'running'", org_id, provider)
        if row is not None:
            return as_struct(row, SyncRun), False


async def latest_run(q: Queries, org_id: uuid.UUID, provider: SyncProvider) -> SyncRun | None:
    row = await q.fetchrow(f"SELECT {_COLUMNS} FROM sync_runs WHERE organization_id = $1 AND provider = $2"
                           " ORDER BY started_at DESC, id DESC LIMIT 1", org_id, provider)
    return maybe_struct(row, SyncRun)


async def expire_stale(q: Queries, org_id: uuid.UUID, provider: SyncProvider, stale_after: timedelta) -> int:
    """End as failed (``INTERRUPTED``) the running runs whose heartbeat is older than ``stale_after``."""
    status = await q.execute(
        "UPDATE sync_runs SET status = 'failed', error = $4, finished_at = now() WHERE organization_id = $1"
        " AND provider = $2 AND status = 'running' AND heartbeat_at < now() - $3::interval",
        org_id, provider, stale_after, INTERRUPTED)
    return row_count(status)


async def set_total(q: Queries, run_id: uuid.UUID, total: int) -> None:
    await q.execute("UPDATE sync_runs SET total = $2, heartbeat_at = now() WHERE id = $1 AND status = 'running'",
                    run_id, total)


async def record_progress(q: Queries, run_id: uuid.UUID, done: int) -> None:
    """``done`` items of the run are finished; bumps the heartbeat."""
    await q.execute("UPDATE sync_runs SET done = $2, heartbeat_at = now() WHERE id = $1 AND status = 'running'",
                    run_id, done)


async def finish_run(q: Queries, run_id: uuid.UUID, error: str | None) -> bool:
    """End the run: ``succeeded`` without ``error``, else ``failed`` with it. False if it had already ended
    (declared interrupted meanwhile)."""
    status = await q.execute(
        "UPDATE sync_runs SET status = CASE WHEN $2::text IS NULL THEN 'succeeded' ELSE 'failed' END, error = $2,"
        " finished_at = now(), heartbeat_at = now() WHERE id = $1 AND status = 'running'", run_id, error)
    return row_count(status) == 1


async def spotify_tracks(q: Queries, org_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """``(track id, Spotify id)`` of the organization's tracks that have a Spotify id, oldest first."""
    rows = await q.fetch("SELECT id, spotify_id FROM tracks WHERE organization_id = $1 AND spotify_id IS NOT NULL"
                         " ORDER BY created_at, id", org_id)
    return [(row["id"], row["spotify_id"]) for row in rows]
