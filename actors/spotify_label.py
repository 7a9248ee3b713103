"""The actor of one organization's connected Spotify (label) account: it reads Spotify's figures of each
catalogue track (the track's popularity, its first artist's followers) and stores them per UTC day.

It owns the schedule, the pacing and retry waits of its calls and the ``needs_reauth`` hand-off. It reaches
Spotify only through an ``engine.providers.TrackFiguresProvider`` built by the composition root's factory
(``adapters/spotify/provider.py``: the client, the stored token and its refresh). It does not decide
which integrations run (``accounts.py`` does), does not own the pacer (one per Spotify app, passed in)
and never decides restarts.

How often: every ``POLL_INTERVAL`` (6 h). Spotify recomputes a track's popularity from recent plays and
publishes it with a lag of a day or more, and an artist's followers move slowly, so polling more often
than a few times a day buys nothing: we keep one row per track and UTC day. Four polls a day still give
every day at least one observation through a few hours of failures or a parked quota, and the day's
last one lands within 6 h of its end. The cost is one ``GET /tracks/{id}`` per catalogue track with a
Spotify id (the batch ``/tracks?ids=`` is gone in development mode, PROVIDERS.md B0) plus one
``GET /artists/{id}`` per distinct first artist: a 500-track catalogue is about 4,000 calls a day, far
inside the app's limit, and the shared pacer spreads them. In development mode both figures are absent:
we still poll (the call proves the token works; an app may be granted extended quota later) and store
NULL, never 0. A restart resumes the schedule from the newest stored observation.

Error handling: rate limits wait in ``pacer``; a block longer than its park threshold (a daily quota) is
waited out as ``parked``. A ``RetryableError`` backs off per ``retry`` with jitter; after
``MAX_FAILURES`` in a row the cycle is abandoned until the next one. A ``FatalProviderError`` of one
track or artist (an unknown id in the catalogue) skips it. A refused refresh token, or an access token
refused mid-life, marks the integration ``needs_reauth`` (``integrations.mark_needs_reauth`` enqueues
``integration.needs_reauth`` with it), and ``run`` returns: run it as a transient child. Every write (the
figures, a refreshed token, ``needs_reauth``) is made under the actor's lease (``leases.fenced_transaction``);
one refused because another engine process claimed the account since (``LeaseLost``) writes nothing and
``run`` returns, ``stopped``. Other store errors propagate.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import httpx
import trio

from actors.accounts import Account, ActorKind
from actors.http import HttpFactory
from engine.lease_plan import Lease
from engine.metrics import actor_kind, counted_call, poll_began
from engine.pacing import Pacer, RetryPolicy
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    RateLimitedError,
    ReauthRequiredError,
    RetryableError,
)
from engine.providers import TrackFiguresProvider
from engine.registry import Detail, Registry, format_error
from engine.store import integrations as integration_store
from engine.store import track_figures as figures_store
from engine.store.leases import LeaseLost, fenced_transaction
from engine.tracing import poll_span

if TYPE_CHECKING:
    from config import Keys
    from engine.store.database import Database

__all__ = ["MAX_FAILURES", "POLL_INTERVAL", "SpotifyLabelActor", "TrackFiguresFactory", "spotify_label_kind"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

POLL_INTERVAL = 6 * 3600.0  # seconds; see the module docstring
MAX_FAILURES = 8  # retryable failures in a row before we give the cycle up
_RETRY = RetryPolicy()  # 1 s doubling to 60 s, 10 % jitter
# (the actor's client, the integration, the actor's lease): the integration's provider, its token read from the
# store and refreshed into it under the lease
TrackFiguresFactory = Callable[[httpx.AsyncClient, integration_store.Integration, Lease], TrackFiguresProvider]


class _GiveUp(Exception):
    """Internal: too many failures in a row; the rest of this cycle waits for the next one."""


class SpotifyLabelActor:
    """Polls one Spotify label integration's track figures into ``track_figures``.

    ``provider`` builds the integration's provider over ``http`` when ``run`` starts. ``now`` is the wall
    clock (Unix seconds) for the stored ``observed_at``; sleeps and pacing use trio's clock. ``lease`` is the
    account's lease: its name (the supervisor's child name, ``spotify:<integration id>``) is ours in
    ``registry``, which gets our status as its ``detail``, and every write is made under it. The constructor
    does no I/O.

    ``run`` reports ``task_status.started()`` once the tokens are found; it returns at once if the
    integration is gone, after ``needs_reauth``, and once a write was refused for a lost lease. See the
    module docstring for errors.
    """

    def __init__(self, db: Database, integration: integration_store.Integration, http: httpx.AsyncClient,
                 pacer: Pacer, provider: TrackFiguresFactory, *, key: bytes, registry: Registry, lease: Lease,
                 interval: float = POLL_INTERVAL, retry: RetryPolicy = _RETRY,
                 rng: random.Random | None = None, now: Callable[[], float] = time.time) -> None:
        self._db, self._integration, self._http, self._pacer = db, integration, http, pacer
        self._provider, self._key, self._registry = provider, key, registry
        self._lease, self.name = lease, lease.name
        self._interval, self._retry, self._rng, self._now = interval, retry, rng or random.Random(), now
        self._failures = 0
        self._cycle_failures = 0  # retryable failures in a row within this cycle (``MAX_FAILURES``)
        self._last_success: datetime | None = None
        self._last_error: str | None = None
        self._tracks = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        row = self._integration
        if await integration_store.get_tokens(self._db, self._key, row.organization_id, row.id) is None:
            self._report("disconnected")
            task_status.started()
            return
        provider = self._provider(self._http, row, self._lease)
        self._report("starting")
        task_status.started()
        try:
            await self._poll_until_refused(provider)
        except LeaseLost as exc:  # logged and counted where refused; the keeper's next renewal drops the lease
            self._last_error = format_error(exc)
            self._report("stopped")

    async def _poll_until_refused(self, provider: TrackFiguresProvider) -> None:
        """Poll until Spotify refuses the token for good (then mark ``needs_reauth`` and return)."""
        row = self._integration
        try:
            await self._poll_forever(provider)
        except AuthExpiredError as exc:
            self._last_error = format_error(exc)
            if not isinstance(exc, ReauthRequiredError):  # the refresh marked that one
                async with fenced_transaction(self._db, self._lease, "needs_reauth") as tx:
                    await integration_store.mark_needs_reauth(tx, row.organization_id, row.id,
                                                              reason=self._last_error)
            self._report("needs_reauth")
            logger.warning("%s: Spotify refused the token (%s); needs re-authentication", self.name,
                           self._last_error)

    # -- the schedule ---------------------------------------------------------------------------------

    async def _poll_forever(self, provider: TrackFiguresProvider) -> None:
        due = await self._resume_at()
        await self._sleep_until(due, "waiting")
        while True:
            began = trio.current_time()
            poll_began(actor_kind(self.name), due, began)
            try:
                with poll_span(actor_kind(self.name)):
                    await self._cycle(provider)
            except _GiveUp:
                logger.warning("%s: %d failures in a row; trying again next cycle", self.name, self._failures)
            due = began + self._interval
            await self._sleep_until(due, "waiting")

    async def _resume_at(self) -> float:
        """Now, or ``interval`` after the newest stored observation (a restart keeps the cadence)."""
        last = await figures_store.last_observed_at(self._db, self._integration.organization_id)
        if last is None:
            return trio.current_time()
        left = last.timestamp() + self._interval - self._now()
        return trio.current_time() + max(0.0, min(left, self._interval))

    async def _cycle(self, provider: TrackFiguresProvider) -> None:
        org, self._cycle_failures = self._integration.organization_id, 0
        catalogue = await figures_store.tracks_to_observe(self._db, org)
        self._tracks = len(catalogue)
        self._report("polling")
        followers: dict[str, int | None] = {}  # artist id → followers (None: Spotify did not say), once a cycle
        for track in catalogue:
            found = await self._skip_fatal(provider.domains, partial(provider.track, track.spotify_id))
            if found is None:
                continue
            artist = found.artist
            if artist is not None and artist not in followers:
                followers[artist] = await self._skip_fatal(provider.domains,
                                                           partial(provider.artist_followers, artist))
            async with fenced_transaction(self._db, self._lease, "spotify_figures") as tx:
                await figures_store.record_figures(
                    tx, org, track.id, popularity=found.popularity,
                    artist_followers=None if artist is None else followers[artist], observed_at=self._wall())
        self._last_success = self._wall()

    # -- one paced, retried call ----------------------------------------------------------------------

    async def _skip_fatal(self, domains: tuple[str, ...], fetch: Callable[[], Awaitable[T]]) -> T | None:
        """``_call(fetch)``, or None when Spotify refuses this one object for good (logged, kept as ``last_error``)."""
        try:
            return await self._call(domains, fetch)
        except FatalProviderError as exc:
            self._last_error = format_error(exc)
            logger.warning("%s: skipped one object: %s", self.name, self._last_error)
            return None

    async def _call(self, domains: tuple[str, ...], fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()`` when the pacer allows ``domains``; waits out rate limits and retries ``RetryableError``s."""
        while True:
            rand = self._rng.random()
            while (at := self._pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:
                parked = self._pacer.parked_until(domains, now)
                await self._sleep_until(at, "parked" if parked is not None else "waiting", parked_until=parked)
            self._pacer.record_call(domains, now)
            self._report("polling")
            try:
                result = await counted_call(domains, fetch)
            except RateLimitedError as exc:
                self._pacer.limited(exc, trio.current_time(), sent_at=now)
                self._failed(exc)
            except RetryableError as exc:
                await self._back_off(exc)
            else:
                self._failures, self._cycle_failures, self._last_error = 0, 0, None
                return result

    async def _back_off(self, exc: RetryableError) -> None:
        self._failed(exc)
        self._cycle_failures += 1
        if self._cycle_failures >= MAX_FAILURES:
            raise _GiveUp
        delay = self._retry.wait(exc, self._failures, self._rng.random())  # never less than Retry-After
        logger.info("%s: %s; retrying in %.0f s", self.name, format_error(exc), delay)
        await self._sleep_until(trio.current_time() + delay, "backing_off")

    # -- status ---------------------------------------------------------------------------------------

    async def _sleep_until(self, at: float, state: str, *, parked_until: float | None = None) -> None:
        self._report(state, next_poll_at=at, parked_until=parked_until)
        await trio.sleep_until(at)

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self._last_error = format_error(exc)

    def _report(self, state: str, *, next_poll_at: float | None = None, parked_until: float | None = None) -> None:
        detail: Detail = {
            "state": state, "next_poll_at": self._at(next_poll_at), "parked_until": self._at(parked_until),
            "last_success_at": None if self._last_success is None else self._last_success.isoformat(),
            "last_error": self._last_error, "consecutive_failures": self._failures, "tracks": self._tracks,
        }
        self._registry.set_detail(self.name, detail)

    def _at(self, trio_time: float | None) -> str | None:
        if trio_time is None:
            return None
        return (self._wall() + timedelta(seconds=max(0.0, trio_time - trio.current_time()))).isoformat()

    def _wall(self) -> datetime:
        return datetime.fromtimestamp(self._now(), UTC)


def spotify_label_kind(db: Database, keys: Keys, registry: Registry, http_factory: HttpFactory,
                       provider: TrackFiguresFactory, *, pacer: Pacer, interval: float = POLL_INTERVAL,
                       rng: random.Random | None = None, now: Callable[[], float] = time.time) -> ActorKind:
    """The connected Spotify integrations as an ``AccountsSupervisor`` kind named ``spotify`` (children
    ``spotify:<integration id>``), all sharing ``pacer`` (Spotify's limit is per app: pass the Pacer the
    other Spotify actors use) and woken by ``INTEGRATIONS_CHANNEL``. ``now`` is the actors' wall clock
    (Unix seconds).

    A re-connect does not restart a running actor (``version`` is constant): its token provider re-reads
    the row whenever its access token runs out, and the row's ``updated_at`` moves on every refresh, so
    it cannot tell a re-connect apart. A re-connect after ``needs_reauth`` starts a new actor.
    """
    seeds = rng if rng is not None else random.Random()

    async def accounts() -> list[Account]:
        rows = await integration_store.accounts_of(db, "spotify")
        return [Account(key=str(row.id), organization_id=row.organization_id, runnable=row.status == "connected",
                        row=row) for row in rows]

    def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
        assert isinstance(account.row, integration_store.Integration)
        row, actor_rng = account.row, random.Random(seeds.random())

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with http_factory() as http:  # the actor's own client, for as long as it runs
                actor = SpotifyLabelActor(db, row, http, pacer, provider, key=keys.token_encryption_key,
                                          registry=registry, lease=lease, interval=interval, rng=actor_rng, now=now)
                await actor.run(task_status=task_status)
        return run

    return ActorKind("spotify", accounts, build, channels=(integration_store.INTEGRATIONS_CHANNEL,))
