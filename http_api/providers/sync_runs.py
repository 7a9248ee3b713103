"""Manual sync runs: ``POST /v1/integrations/{provider}/sync`` starts one as a job of the API process and
``GET .../sync/status`` reports the latest, with its progress.

A run is small and real. Spotify: every catalogue track with a Spotify id gets its title, artist, album
and cover refreshed from Spotify. Meta: every campaign linked to a Meta campaign gets Meta's
``effective_status``. The work runs in the process's job runner (``engine.jobs.Jobs``), not in a request:
the POST answers 202 at once. One run at a time per organization and provider; a POST while one runs
answers 202 with that run (it is idempotent rather than a 409, so a client that retries gets the run it
started). A provider failure ends the run ``failed`` with the provider's message; it never reaches the
app. It does not schedule runs; the pollers do that.
"""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime, timedelta

import msgspec
import trio

from adapters.meta.client import MetaClient
from adapters.spotify.schemas import Track as SpotifyTrack
from engine.jobs import Jobs
from engine.provider import ProviderError
from engine.store import campaign_meta, tracks
from engine.store import sync_runs as store
from engine.store.database import Database
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.clients import connected_integration, not_configured, open_meta, open_spotify
from http_api.routing import Access, Call, Router

__all__ = [
    "STALE_AFTER", "SyncRunOut", "latest_sync_run", "run_sync", "start_sync_run", "sync_runs_router",
]  # fmt: skip

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)  # a running run whose heartbeat is older belonged to a dead process
_FINISH_GRACE_S = 5.0  # how long a cancelled run may take to record its end
_NAMES = {"meta": "Meta", "spotify": "Spotify"}
_PROVIDERS: tuple[store.SyncProvider, ...] = ("meta", "spotify")
_MAX_TEXT = 200  # what the catalogue's text fields hold (http_api.catalog.schemas)


class SyncRunOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    provider: store.SyncProvider
    status: store.RunStatus
    total: int
    done: int
    progress: float  # done / total, 0..1; 1 for a succeeded run with nothing to do
    started_at: datetime
    finished_at: datetime | None
    error: str | None


class SyncRunBody(msgspec.Struct, frozen=True):
    run: SyncRunOut


def sync_runs_router(ctx: ApiContext, jobs: Jobs) -> Router:
    router = Router("sync_runs", ctx, tag="Integrations")

    @router.route("POST", "/v1/integrations/<provider>/sync", summary="Start a sync with a provider",
                  access=Access.MEMBER, response=SyncRunBody, status=202, errors=(409, 503),
                  description="Spotify: refreshes every catalogue track that has a Spotify id. Meta: reads the"
                              " effective status of every campaign linked to a Meta campaign. Answers at once"
                              " with the run and a Location to its status; while a run is going on, answers"
                              " 202 with that run. 409 when the provider is not connected.")
    async def start_sync(call: Call, provider: str) -> SyncRunBody:
        name = _provider(provider)
        run = await start_sync_run(call, jobs, name)
        call.headers["Location"] = f"/v1/integrations/{name}/sync/status"
        return SyncRunBody(run)

    @router.route("GET", "/v1/integrations/<provider>/sync/status", summary="The latest sync with a provider",
                  access=Access.VIEWER, response=SyncRunBody,
                  description="The latest run, running or ended. A running run that has not moved for two"
                              " minutes belonged to a process that stopped: it is reported, and recorded, as"
                              " failed with the error \"interrupted\".")
    async def sync_status(call: Call, provider: str) -> SyncRunBody:
        name = _provider(provider)
        run = await latest_sync_run(call.db, call.caller.organization_id, name)
        if run is None:
            raise ApiError(404, "NOT_FOUND", f"no {_NAMES[name]} sync has run yet")
        return SyncRunBody(run)

    return router


async def start_sync_run(call: Call, jobs: Jobs, provider: store.SyncProvider) -> SyncRunOut:
    """Start a run for the caller's organization as a job, or return the one going on. Raises ``ApiError``
    503 when the provider is not configured, 409 when no account of it is connected."""
    _check_configured(call.ctx, provider)
    await connected_integration(call, provider)
    org_id = call.caller.organization_id
    await store.expire_stale(call.db, org_id, provider, STALE_AFTER)
    run, started = await store.start_run(call.db, org_id, provider, call.caller.user_id)
    if started:
        jobs.start(f"sync {run.id}", functools.partial(run_sync, call.ctx, run))
    return _out(run)


async def latest_sync_run(db: Database, org_id: uuid.UUID, provider: store.SyncProvider) -> SyncRunOut | None:
    """The organization's latest run with ``provider``, a stalled one recorded as failed first."""
    await store.expire_stale(db, org_id, provider, STALE_AFTER)
    run = await store.latest_run(db, org_id, provider)
    return None if run is None else _out(run)


def _provider(name: str) -> store.SyncProvider:
    for provider in _PROVIDERS:
        if provider == name:
            return provider
    raise ApiError(404, "NOT_FOUND", f"no such provider: {name}")


def _check_configured(ctx: ApiContext, provider: store.SyncProvider) -> None:
    settings = ctx.settings
    if (settings.meta.app_id if provider == "meta" else settings.spotify.client_id) is None:
        raise not_configured(provider)


def _out(run: store.SyncRun) -> SyncRunOut:
    finished_empty = 1.0 if run.status == "succeeded" else 0.0
    progress = min(1.0, run.done / run.total) if run.total else finished_empty
    return SyncRunOut(id=run.id, provider=run.provider, status=run.status, total=run.total, done=run.done,
                      progress=progress, started_at=run.started_at, finished_at=run.finished_at, error=run.error)


async def run_sync(ctx: ApiContext, run: store.SyncRun) -> None:
    """Do ``run``'s work and record how it ended; meant for the job runner.

    Error handling: a provider's failure, or the account gone or needing re-auth, ends the run ``failed``
    with the message and returns. Cancellation (the app shutting down) ends it ``failed`` with
    ``interrupted`` and propagates. Any other exception ends it ``failed`` and propagates, for the job runner
    to log.
    """
    db = ctx.db()
    error: str | None = store.INTERRUPTED  # unless we get further
    try:
        if run.provider == "spotify":
            await _sync_spotify(ctx, run)
        else:
            await _sync_meta(ctx, run)
        error = None
    except ProviderError as exc:
        error = f"{_NAMES[run.provider]}: {exc.message}"
    except ApiError as exc:  # open_*: not configured, disconnected or needs re-auth since the POST
        error = exc.message
    except Exception:
        error = "internal error"
        raise
    finally:
        # Shielded, bounded: the run must not stay "running" because we were cancelled (the hypercorn style).
        with trio.move_on_after(_FINISH_GRACE_S) as scope:
            scope.shield = True
            await store.finish_run(db, run.id, error)
        if error is not None:
            logger.info("sync run %s (%s) failed: %s", run.id, run.provider, error)


async def _sync_spotify(ctx: ApiContext, run: store.SyncRun) -> None:
    db = ctx.db()
    async with open_spotify(ctx, run.organization_id) as client:
        work = await store.spotify_tracks(db, run.organization_id)
        await store.set_total(db, run.id, len(work))
        for done, (track_id, spotify_id) in enumerate(work, 1):
            remote = await client.track(spotify_id)
            await tracks.update_track(db, run.organization_id, track_id, _track_changes(remote))
            await store.record_progress(db, run.id, done)


def _track_changes(remote: SpotifyTrack) -> dict[str, object]:
    """What Spotify says of the track, for the fields we refresh; what it leaves empty we keep."""
    album = remote.album
    texts = {"title": remote.name, "artist": ", ".join(a.name for a in remote.artists if a.name),
             "album": album.name if album is not None else ""}
    changes: dict[str, object] = {key: value[:_MAX_TEXT] for key, value in texts.items() if value.strip()}
    if album is not None and album.images:  # Spotify lists the largest first
        changes["cover_art_url"] = album.images[0].url
    return changes


async def _sync_meta(ctx: ApiContext, run: store.SyncRun) -> None:
    db = ctx.db()
    async with open_meta(ctx, run.organization_id) as (client, _):
        links = await campaign_meta.linked_campaigns(db, run.organization_id)
        await store.set_total(db, run.id, len(links))
        statuses: dict[str, dict[str, str | None]] = {}  # ad account -> Meta campaign -> effective status
        for done, link in enumerate(links, 1):
            account = link.meta_ad_account_id
            if account not in statuses:  # one paged read per ad account, not one call per campaign
                statuses[account] = await _effective_statuses(client, account)
            status = statuses[account].get(link.meta_campaign_id)  # None (no longer listed) keeps what we knew
            await campaign_meta.set_meta_effective_status(db, run.organization_id, link.meta_campaign_id, status)
            await store.record_progress(db, run.id, done)


async def _effective_statuses(client: MetaClient, account: str) -> dict[str, str | None]:
    act_id = account if account.startswith("act_") else f"act_{account}"
    return {campaign.id: campaign.effective_status for campaign in (await client.campaigns(act_id)).data}
