"""The actor of one opted-in listener's Spotify account: it polls their recently played tracks, stores each
play once, and turns each new play that counts for one of the listener's campaigns into a stream event
(the stream counter makes those the campaigns' ``streams``, as it does every other stream event).

It owns the listener's cursor and status. It reaches Spotify only through an
``engine.providers.RecentPlaysProvider`` built by the composition root's factory
(``adapters/spotify/provider.py``: the client, the stored token and its refresh). It does not start
itself (the accounts supervisor runs one per row of ``listener_accounts_to_run``), does not own the
pacer (one per app rate domain, shared by every listener) and never decides restarts.

How often. Spotify keeps only the 50 most recent plays reachable (PROVIDERS.md B2), and a play counts
after 30 s. An active listener plays about 20 tracks an hour (3-minute tracks), so 50 plays are about
2.5 hours of listening. We first poll every ``POLL_INTERVAL`` (30 min), a fifth of that; then, at the
rate the last poll saw, every time the listener needs to fill half of those 50 (``_next_interval``),
kept within ``MIN_INTERVAL`` (10 min, a back-to-back binge of 30-second plays) and ``MAX_INTERVAL``
(60 min, about 20 plays for an active listener); an idle listener drifts towards 60 min. A poll that
returns a full page asks again at once from its newest play, so a burst is walked forward without
gaps. At 30 min, 10,000 listeners cost about 5.6 calls per second on the app's shared limit, which the
pacer spreads out.

Every write (the plays and their stream events, a parked block, a refreshed token, ``needs_reauth``) is made
under the actor's lease (``leases.fenced_transaction``): one refused because another engine process claimed
the listener since (``LeaseLost``) writes nothing, and ``run`` returns, ``stopped``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import httpx
import msgspec
import trio

from actors.accounts import Account, ActorKind
from actors.http import HttpFactory
from engine.lease_plan import Lease
from engine.metrics import actor_kind, counted_call, poll_began
from engine.pacing import Pacer, RetryPolicy
from engine.provider import AuthExpiredError, RateLimitedError, ReauthRequiredError, RetryableError
from engine.providers import Played, RecentPlaysProvider
from engine.registry import Detail, Registry, format_error
from engine.store import listener_plays as plays_store
from engine.store import listeners as listener_store
from engine.store import stream_events
from engine.store.leases import LeaseLost, fenced_transaction
from engine.store.listener_plays import CountedPlay, ListenerRef, Play, to_ms
from engine.tracing import poll_span

if TYPE_CHECKING:
    from engine.store.database import Connection, Database

__all__ = ["MAX_INTERVAL", "MIN_INTERVAL", "POLL_INTERVAL", "ListenerStatus", "RecentPlaysFactory",
           "SpotifyListenerActor", "listener_accounts_to_run", "listener_kind"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
# (the actor's client, the organization, the listener, the actor's lease): the listener's provider, its token
# read from the store and refreshed into it under the lease
RecentPlaysFactory = Callable[[httpx.AsyncClient, uuid.UUID, uuid.UUID, Lease], RecentPlaysProvider]

POLL_INTERVAL = 1800.0  # seconds; see the module docstring
MIN_INTERVAL = 600.0
MAX_INTERVAL = 3600.0
PAGE = 50  # Spotify's largest page, and all it keeps
_BUSY = PAGE // 2  # half the reachable history: what one interval should bring at most
_RETRY = RetryPolicy()  # 1 s doubling to 60 s, 10 % jitter
# We do not ask fans for user-read-private, so a play's country is unknown: ISO 3166's user-assigned "ZZ".
_UNKNOWN_COUNTRY = "ZZ"


async def listener_accounts_to_run(db: Database) -> list[ListenerRef]:
    """The listener accounts that need an actor: connected and opted in to some campaign (id and org)."""
    return await plays_store.listeners_to_poll(db)


class ListenerStatus(msgspec.Struct, kw_only=True):
    """What the actor is doing. Times are wall clock; ``next_poll_at`` is when it next calls Spotify."""

    state: str = "starting"  # starting | polling | waiting | backing_off | parked | needs_reauth | stopped
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0


class SpotifyListenerActor:
    """Polls one listener's recently played and stores the plays, and the stream events of those that count
    (event id ``listener:<listener id>:<played_at in Unix ms>``, platform ``spotify``, country ``ZZ``).

    ``provider`` builds the listener's provider over ``http`` when ``run`` starts. ``now`` is the wall
    clock (Unix seconds) for stored times; sleeps and pacing use trio's clock. ``lease`` is the account's
    lease: every write is made under it, and its name (the supervisor's child name) is ours in ``registry``
    (optional), which gets ``status`` as its ``detail`` (the supervisor keeps the entry's state).

    ``run`` reports ``task_status.started()`` once the listener's state is read, and returns (without
    polling) when the account is gone, on no campaign, or not ``connected``, after a refused refresh
    (the listener is then ``needs_reauth``), and once a write was refused for a lost lease: run it as a
    transient child.

    Error handling: rate limits wait in ``pacer`` (a block longer than its park threshold is persisted
    and waited out as ``parked``); ``RetryableError`` backs off per ``retry`` with jitter; an access token
    refused mid-life marks the listener ``needs_reauth`` and returns; ``LeaseLost`` returns (``stopped``);
    ``FatalProviderError`` and other store errors propagate to the supervisor.
    """

    def __init__(self, db: Database, listener_id: uuid.UUID, http: httpx.AsyncClient, pacer: Pacer,
                 provider: RecentPlaysFactory, *, lease: Lease, now: Callable[[], float] = time.time,
                 registry: Registry | None = None, retry: RetryPolicy = _RETRY,
                 rng: random.Random | None = None) -> None:
        self._db, self._id, self._provider = db, listener_id, provider
        self._http, self._pacer, self._now = http, pacer, now
        self._registry, self._lease, self.name = registry, lease, lease.name
        self._retry, self._rng = retry, rng or random.Random()
        self._org: uuid.UUID | None = None
        self._cursor: int | None = None
        self.status = ListenerStatus()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        state = await plays_store.poll_state(self._db, self._id)
        task_status.started()
        if state is None or state.status != "connected" or state.first_opt_in is None:
            self._set("needs_reauth" if state is not None and state.status == "needs_reauth" else "stopped")
            return
        provider = self._provider(self._http, state.organization_id, self._id, self._lease)
        self._restore(state, provider.domains)
        try:
            await self._poll_until_refused(provider, state.organization_id)
        except LeaseLost as exc:  # logged and counted where refused; the keeper's next renewal drops the lease
            self._set("stopped", error=exc)

    async def _poll_until_refused(self, provider: RecentPlaysProvider, org_id: uuid.UUID) -> None:
        """Poll until Spotify refuses the token for good (then mark ``needs_reauth`` and return)."""
        try:
            await self._loop(provider)
        except AuthExpiredError as exc:
            if not isinstance(exc, ReauthRequiredError):  # the provider's token marked that one itself
                async with fenced_transaction(self._db, self._lease, "needs_reauth") as tx:
                    await listener_store.mark_listener_needs_reauth(tx, org_id, self._id)
            self._set("needs_reauth", error=exc)
            logger.info("listener %s needs re-auth: %s", self._id, exc)

    # -- the loop -------------------------------------------------------------------------------------

    async def _loop(self, provider: RecentPlaysProvider) -> None:
        interval, previous, due = POLL_INTERVAL, None, trio.current_time()
        while True:
            state = await plays_store.poll_state(self._db, self._id)
            if state is None or state.status != "connected":
                self._set("stopped")
                return
            started = trio.current_time()
            poll_began(actor_kind(self.name), due, started)
            try:
                with poll_span(actor_kind(self.name)):
                    added = await self._poll(provider)
            except RetryableError as exc:
                await self._back_off(exc)
                due = trio.current_time()  # the retry is due when the backoff ends
                continue
            self.status.consecutive_failures, self.status.last_error = 0, None
            self.status.last_success_at = self._wall()
            interval = _next_interval(added, None if previous is None else started - previous, interval)
            previous, due = started, started + interval
            await self._sleep_until(due, "waiting")

    async def _poll(self, provider: RecentPlaysProvider) -> int:
        """Fetch and store every play after the cursor, page by page; returns how many came back."""
        seen = 0
        while True:
            items = await self._call(provider.domains, lambda: provider.plays_after(self._cursor, PAGE))
            if items:
                self._cursor = max(self._cursor or 0, *(to_ms(item.played_at) for item in items))
            # One transaction: a re-poll stores a play no more, so its event must commit with it or never.
            async with fenced_transaction(self._db, self._lease, "listener_plays") as tx:
                counted = await plays_store.record_plays(tx, self._id, _plays(items), cursor_ms=self._cursor,
                                                         polled_at=self._wall())
                await self._ingest(tx, counted)
            seen += len(items)
            if len(items) < PAGE:
                return seen

    async def _call(self, domains: tuple[str, ...], fetch: Callable[[], Awaitable[list[Played]]]) -> list[Played]:
        """One paced call: wait for ``domains``, call, and feed a 429 back to the pacer (then retry)."""
        while True:
            rand = self._rng.random()
            while (at := self._pacer.next_allowed(domains, now := trio.current_time(), rand)) > now:
                parked = self._pacer.parked_until(domains, now)
                await self._sleep_until(at, "parked" if parked is not None else "waiting")
            sent = trio.current_time()
            self._pacer.record_call(domains, sent)
            self._set("polling")
            try:
                items = await counted_call(domains, fetch)
            except RateLimitedError as exc:
                self._pacer.limited(exc, trio.current_time(), sent_at=sent)
                self._fail(exc)
                await self._park_if_long(domains)
                continue
            return items

    # -- outcomes -------------------------------------------------------------------------------------

    async def _ingest(self, tx: Connection, counted: list[CountedPlay]) -> None:
        if not counted:
            return
        assert self._org is not None  # set by _restore, before any poll
        # No MAX_AGE check: a play is new here at most once (listener_plays is keyed by its time), so its
        # event id cannot come back after stream_events forgot it.
        events = [stream_events.NewEvent(event_id=f"listener:{self._id}:{to_ms(play.played_at)}",
                                         track_id=play.track_id, platform="spotify", country=_UNKNOWN_COUNTRY,
                                         occurred_at=play.played_at) for play in counted]
        await stream_events.ingest(tx, self._org, events, received_at=self._wall())

    async def _back_off(self, exc: RetryableError) -> None:
        self._fail(exc)
        delay = self._retry.wait(exc, self.status.consecutive_failures, self._rng.random())
        logger.info("listener %s: %s; retrying in %.0f s", self._id, exc, delay)
        await self._sleep_until(trio.current_time() + delay, "backing_off")

    async def _park_if_long(self, domains: tuple[str, ...]) -> None:
        """Persist a block longer than the pacer's park threshold, so a restart waits it out too."""
        now = trio.current_time()
        until = self._pacer.parked_until(domains, now)
        if until is not None:
            async with fenced_transaction(self._db, self._lease, "listener_parked") as tx:
                await plays_store.park_polls(tx, self._id, self._wall() + timedelta(seconds=until - now))

    def _restore(self, state: plays_store.PollState, domains: tuple[str, ...]) -> None:
        self._org, self._cursor = state.organization_id, state.plays_cursor_ms
        if self._cursor is None and state.first_opt_in is not None:
            self._cursor = to_ms(state.first_opt_in) - 1  # `after` is exclusive; nothing before opting in
        if state.polls_parked_until is not None:
            left = (state.polls_parked_until - self._wall()).total_seconds()
            if left > 0:
                for domain in domains:
                    self._pacer.governor(domain).limited(left, trio.current_time())

    # -- status ---------------------------------------------------------------------------------------

    async def _sleep_until(self, at: float, state: str) -> None:
        self.status.next_poll_at = self._wall() + timedelta(seconds=max(0.0, at - trio.current_time()))
        self._set(state)
        await trio.sleep_until(at)

    def _fail(self, exc: BaseException) -> None:
        self.status.consecutive_failures += 1
        self.status.last_error = format_error(exc)

    def _set(self, state: str, *, error: BaseException | None = None) -> None:
        if error is not None:
            self.status.last_error = format_error(error)
        self.status.state = state
        if self._registry is not None:  # the supervisor owns the entry's state; we add our own account
            self._registry.set_detail(self.name, _detail(self.status))

    def _wall(self) -> datetime:
        return datetime.fromtimestamp(self._now(), UTC)


def _next_interval(added: int, elapsed: float | None, previous: float) -> float:
    """The time in which, at the rate of the last poll, the listener fills half of the 50 reachable plays,
    within ``MIN_INTERVAL``..``MAX_INTERVAL``; an idle listener is polled half as often again each time."""
    if elapsed is None:
        return POLL_INTERVAL
    if added == 0:
        return min(MAX_INTERVAL, previous * 1.5)
    return min(MAX_INTERVAL, max(MIN_INTERVAL, _BUSY * elapsed / added))


def _detail(status: ListenerStatus) -> Detail:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {"state": status.state, "next_poll_at": iso(status.next_poll_at),
            "last_success_at": iso(status.last_success_at), "last_error": status.last_error,
            "consecutive_failures": status.consecutive_failures}


def _plays(items: list[Played]) -> list[Play]:
    # Local files have no track id: no campaign tracks them, and the cursor already moved past them.
    return [Play(played_at=item.played_at, spotify_track_id=item.track, context_uri=item.context)
            for item in items if item.track is not None]


def listener_kind(db: Database, registry: Registry, http_factory: HttpFactory, provider: RecentPlaysFactory, *,
                  pacer: Pacer, now: Callable[[], float] = time.time) -> ActorKind:
    """The opted-in listeners as an ``AccountsSupervisor`` kind: one actor each, all sharing ``pacer``
    (Spotify's limit is per app: pass the Pacer the other Spotify actors use), woken by opt-ins
    (``LISTENERS_CHANNEL``). ``now`` is the actors' wall clock (Unix seconds)."""

    async def accounts() -> list[Account]:
        return [Account(key=str(ref.id), organization_id=ref.organization_id)
                for ref in await listener_accounts_to_run(db)]

    def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with http_factory() as http:  # the actor's own client, for as long as it runs
                actor = SpotifyListenerActor(db, uuid.UUID(account.key), http, pacer, provider, lease=lease,
                                             now=now, registry=registry)
                await actor.run(task_status=task_status)
        return run

    return ActorKind("spotify-listener", accounts, build, channels=(listener_store.LISTENERS_CHANNEL,))
