"""``MetaAccountActor``: one connected Meta integration (one user token) polled for insights and statuses.

It owns the polling schedule, the pacing and retry waits of its calls (``engine.pacing``), the turning
of campaign figures into ``MetricSample``s and the ``needs_reauth`` hand-off. It reaches Meta only through
an ``engine.providers.AdsProvider`` that the composition root's factory builds for the token (Meta's rows,
rate domains and currency units are ``adapters/meta/provider.py``'s). It does not store facts (the
aggregator does), restart itself (the supervisor does) or decide which integrations run (``accounts.py``).

The schedule, per ad account that the organization's polled campaigns use (``meta_poll_targets``: linked,
active or paused, or ended within the 28-day restatement window) and that the token reaches:

* every ``interval`` (15 min: Meta refreshes insights every 15 minutes, PROVIDERS.md A3) one insights call
  for yesterday and today in the account's timezone, or from the previous call's day when that is older
  (``level=campaign``, ``time_increment=1``: one row per campaign and day), then one campaigns call that
  refreshes ``effective_status``;
* every ``restatement_every`` (6 h), and at the first cycle, the same insights call spans the 28-day
  restatement window instead (Meta stops restating a day 28 days after it); a window too big for one
  synchronous call (``RequestTooLargeError``) is split in halves;
* the reachable ad accounts (currency, timezone) are read at start and again every ``restatement_every``.

The first cycle runs as the actor starts, the second at a random point of the ``interval`` after it began:
the actors a process starts together poll spread over the interval, not all in the same instant each time.

One insights call per account per cycle, whatever the number of campaigns: Meta budgets calls, not rows.
At the development tier that is about 5 of the 600 insights calls an account may make per hour.

The writes that actions queued for the linked campaigns (``engine.store.meta_writes``: a rule's pause,
resume or budget, the guardrail's pause) are applied in each cycle once Meta's statuses are read, in the
order they were queued, through the same pacing (``actors/meta_writes.py``: which are refused, which are
tried again next cycle and for how long); a write that Meta already has costs no call. Between cycles, a
wake-up from ``MetaWriteSignals`` (the aggregator or the rule evaluator queued writes for our organization)
applies the pending writes at once, without polling figures: a guardrail's pause reaches Meta as it
commits, not one ``interval`` later.

A campaign of ours that must not spend (paused, by a member or by its budget guardrail; completed by the
calendar; archived) while Meta still runs it is paused on Meta in each cycle, so it stops spending: this
catches what nothing queued (a move by the calendar) and a Meta campaign started again behind our back.
What Meta spent since its last poll is only known at the next one: that is what a guardrail may let
through.

Error handling: each call is paced and retried by ``actors/meta_calls.py`` (``MetaCalls``), which parks an
account after too many failures in a row or a long rate-limit block; parking one account never stops the
others. A ``FatalProviderError`` skips the account until the next cycle. An ``AuthExpiredError`` marks the
integration ``needs_reauth`` (``integrations.mark_needs_reauth``, which enqueues
``integration.needs_reauth`` with it), and ``run`` returns: the actor restarts when the integration is
connected again. Every write of ours (the ad accounts, Meta's statuses, the outcomes of queued writes,
``needs_reauth``) is made under the actor's lease (``leases.fenced_transaction``; the samples carry it to the
aggregator): one refused because another engine process claimed the integration since (``LeaseLost``) writes
nothing, and ``run`` returns, ``stopped``. Anything else crashes ``run`` for the supervisor. Every state
change is in the registry's ``detail`` of this actor.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

import httpx
import trio

from actors.accounts import Account, ActorKind
from actors.http import HttpFactory
from actors.meta_calls import AccountState, MetaCalls, Parked
from actors.meta_schedule import MetaSchedule, days_back
from actors.meta_signals import MetaWriteSignals
from actors.meta_writes import STOPPED, AccountWrites, fail_writes, refuse_unlinked
from engine.clock import utc_now
from engine.lease_plan import Lease
from engine.messages import MetricSample
from engine.metrics import actor_kind, poll_began
from engine.pacing import Pacer, RetryPolicy
from engine.provider import (
    AuthExpiredError,
    FatalProviderError,
    RequestTooLargeError,
    RetryableError,
)
from engine.providers import AdAccount, AdsProvider, CampaignFigure
from engine.registry import Detail, Registry, format_error
from engine.store import campaign_meta
from engine.store import campaigns as campaign_store
from engine.store import integrations as integration_store
from engine.store.leases import LeaseLost, fenced_transaction
from engine.store.meta_writes import pending_writes
from engine.tracing import poll_span

if TYPE_CHECKING:
    from config import Keys
    from engine.store.database import Database

__all__ = ["AdsProviderFactory", "MetaAccountActor", "meta_kind"]

log = logging.getLogger(__name__)

T = TypeVar("T")
AdsProviderFactory = Callable[[httpx.AsyncClient, str], AdsProvider]  # (the actor's client, an access token)


class MetaAccountActor:
    """Polls every ad account of one Meta integration and sends ``MetricSample``s on ``samples``.

    ``lease`` is the account's lease (``actors.lease_keeper``): its name is the actor's name in ``registry``
    (its supervisor's child name), every write of ours is made under it, and every sample carries it, so the
    aggregator drops those sent after another engine process claimed the account. ``http_factory`` makes the
    actor's own ``httpx.AsyncClient`` for each run, and ``provider`` the provider over it for the token;
    ``pacer`` is shared by every Meta actor of the process (the app's budget is shared too). ``wall`` is
    the wall clock for days and displayed times; trio's clock paces. The constructor does no I/O.

    ``run`` sends on a clone of ``samples`` and closes it on every exit; ``send`` blocks when the channel
    is full, which pauses polling (nothing is dropped). It reports started once the token is read. Between
    cycles, a wake-up from ``signals`` (a write to Meta queued for our organization) applies the pending
    writes at once, without polling figures.
    """

    def __init__(
        self, db: Database, integration: integration_store.Integration, *, key: bytes, lease: Lease,
        registry: Registry, samples: trio.MemorySendChannel[MetricSample], pacer: Pacer,
        http_factory: HttpFactory, provider: AdsProviderFactory,
        schedule: MetaSchedule = MetaSchedule(),  # noqa: B008 -- frozen
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 -- frozen
        rng: random.Random | None = None, wall: Callable[[], datetime] = utc_now,
        signals: MetaWriteSignals | None = None,
    ) -> None:
        self._db, self._integration, self._key, self._name = db, integration, key, lease.name
        self._lease = lease
        self._signals = signals
        self._registry, self._samples, self._http_factory = registry, samples, http_factory
        self._provider, self._schedule = provider, schedule
        self._wall = wall
        self._accounts: dict[str, AdAccount] = {}
        self._accounts_due = float("-inf")
        self._states: dict[str, AccountState] = {}
        self._rng = rng if rng is not None else random.Random()
        self._calls = MetaCalls(pacer, retry, schedule, self._rng, wall=wall, report=self._report)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll until the token dies (returns after ``needs_reauth``), the integration is gone or a write was
        refused for a lost lease (returns). Started after the engine closed ``samples`` (a stop that came while
        the accounts supervisor was starting actors), it returns at once."""
        org, integration_id = self._integration.organization_id, self._integration.id
        try:
            outbox = self._samples.clone()
        except trio.ClosedResourceError:  # the engine is stopping: it closed the samples as we were started
            self._report("stopped")
            task_status.started()
            return
        with outbox:
            tokens = await integration_store.get_tokens(self._db, self._key, org, integration_id)
            if tokens is None:
                self._report("disconnected")
                task_status.started()
                return
            async with self._http_factory() as http:
                provider = self._provider(http, tokens.access_token)
                del tokens  # the provider holds the token; nothing else here should
                self._report("starting")
                task_status.started()
                try:
                    await self._poll_until_refused(provider, outbox)
                except LeaseLost as exc:  # logged and counted where refused; the keeper's next renewal drops it
                    self._calls.last_error = format_error(exc)
                    self._report("stopped")

    async def _poll_until_refused(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample]) -> None:
        """Poll until Meta refuses the token (then mark ``needs_reauth`` and return)."""
        try:
            await self._poll_forever(provider, outbox)
        except AuthExpiredError as exc:
            await self._needs_reauth(exc)

    # ---- the schedule --------------------------------------------------------------------------------

    async def _poll_forever(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample]) -> None:
        due = trio.current_time()
        # The first cycle runs at once, the second at a random point of the interval after it began: thousands
        # of actors started together (a process's start, a hand-over) then poll spread over each interval
        # instead of all in the same instant, and the engine, the database and Meta see an even load.
        gap: float | None = self._rng.uniform(0, self._schedule.interval)
        while True:
            began = trio.current_time()
            poll_began(actor_kind(self._name), due, began)
            try:
                with poll_span(actor_kind(self._name)):
                    await self._cycle(provider, outbox)
                next_at = began + (self._schedule.interval if gap is None else gap)
                gap = None
            except Parked as parked:  # the token's accounts list: nothing can be polled without it
                next_at = max(parked.until, began + self._schedule.interval)
                self._report("parked", parked_until=parked.until)
                log.warning("%s: parked for %.0fs after %d failures", self._name, next_at - trio.current_time(),
                            self._calls.failures)
            else:
                now = trio.current_time()
                ends = [s.parked_until for s in self._states.values() if s.parked_until and s.parked_until > now]
                self._report("waiting", next_poll_at=next_at, parked_until=max(ends, default=None))
            await self._rest(provider, next_at)
            due = next_at

    async def _rest(self, provider: AdsProvider, next_at: float) -> None:
        """Until ``next_at``, applying the pending writes each time ``signals`` says some were queued."""
        if self._signals is None:
            await trio.sleep_until(next_at)
            return
        while trio.current_time() < next_at:
            woken = False
            with trio.move_on_at(next_at):
                await self._signals.wait(self._integration.organization_id)
                woken = True
            if woken:
                with contextlib.suppress(Parked):  # the token's accounts list failed: the next cycle reports it
                    await self._cycle(provider, None)

    async def _cycle(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample] | None) -> None:
        """One cycle over every linked campaign's ad account; without ``outbox``, the writes only (no figures),
        and only when some are pending."""
        org_id = self._integration.organization_id
        window_start = self._wall() - timedelta(days=self._schedule.restatement_days)
        if outbox is None:
            targets = await campaign_meta.meta_poll_targets(self._db, org_id, ended_after=window_start)
            pending = await pending_writes(self._db, org_id, [target.campaign_id for target in targets])
            if not pending:
                return
            queued = {write.campaign_id for write in pending}
            targets = [target for target in targets if target.campaign_id in queued]
        else:
            self._report("polling")
            await refuse_unlinked(self._db, self._lease, org_id, now=self._wall())
            targets = await campaign_meta.meta_poll_targets(self._db, org_id, ended_after=window_start)
        by_account: dict[str, list[campaign_meta.MetaPollTarget]] = {}
        for target in targets:
            by_account.setdefault(provider.account_id(target.meta_ad_account_id), []).append(target)
        if not by_account:
            return
        if trio.current_time() >= self._accounts_due or not by_account.keys() <= self._accounts.keys():
            await self._load_accounts(provider)
        for act, links in by_account.items():
            await self._poll_account(provider, outbox, act, links)

    async def _load_accounts(self, provider: AdsProvider) -> None:
        result = await self._calls.call(self._states.setdefault("", AccountState()), provider.accounts_domains(),
                                  provider.ad_accounts)
        self._accounts = {account.id: account for account in result.data}
        async with fenced_transaction(self._db, self._lease, "meta_ad_accounts") as tx:
            await campaign_meta.record_ad_accounts(tx, self._integration.organization_id, [
                campaign_meta.AdAccountInfo(account_id=act, name=account.name, currency=account.currency,
                                            timezone_name=account.timezone_name)
                for act, account in self._accounts.items()])
        self._accounts_due = trio.current_time() + self._schedule.restatement_every

    async def _poll_account(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample] | None,
                            act: str, links: Sequence[campaign_meta.MetaPollTarget]) -> None:
        state = self._states.setdefault(act, AccountState())
        account = self._accounts.get(act)
        if account is None:
            self._calls.last_error = f"ad account {act} is not reachable with this token"
            await fail_writes(self._db, self._lease, self._integration.organization_id,
                              [link.campaign_id for link in links], self._calls.last_error, now=self._wall())
            return
        now = trio.current_time()
        if state.parked_until is not None and now < state.parked_until:
            return
        state.parked_until = None
        try:
            await self._poll_reachable(provider, outbox, account, links, state)
        except Parked as parked:
            state.parked_until = parked.until
            self._report("parked", parked_until=parked.until)
            log.warning("%s: %s parked for %.0fs", self._name, act, parked.until - trio.current_time())
        except (FatalProviderError, RetryableError) as exc:  # a RequestTooLargeError even for one day
            self._calls.failed(exc)
            log.warning("%s: %s skipped this cycle: %s", self._name, act, format_error(exc))

    async def _poll_reachable(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample] | None,
                              account: AdAccount, links: Sequence[campaign_meta.MetaPollTarget],
                              state: AccountState) -> None:
        act = account.id
        if outbox is not None:
            await self._poll_figures(provider, outbox, account, links, state)
        domains = provider.campaigns_domains(act)
        statuses = (await self._calls.call(state, domains, functools.partial(provider.campaign_statuses, act))).data
        # Read now, not at the cycle's start: the figures just sent may have paused a campaign (guardrail).
        org_id = self._integration.organization_id
        ours = await campaign_store.statuses_of(self._db, org_id, [link.campaign_id for link in links])
        writes = AccountWrites(self._db, provider, account, lease=self._lease,
                               call=self._calls.paced_once(state, domains), wall=self._wall)
        await writes.apply(org_id, links, statuses=statuses, ours=ours)  # sets what it wrote in statuses
        for link in links:
            if ours.get(link.campaign_id) in STOPPED and provider.spending(statuses.get(link.meta_campaign_id)):
                paused = await self._calls.call(state, domains, functools.partial(
                    provider.pause_campaign, act, link.meta_campaign_id))
                statuses[link.meta_campaign_id] = paused.data
        await self._store_statuses(links, statuses)

    # ---- figures into samples ------------------------------------------------------------------------

    async def _poll_figures(self, provider: AdsProvider, outbox: trio.MemorySendChannel[MetricSample],
                            account: AdAccount, links: Sequence[campaign_meta.MetaPollTarget],
                            state: AccountState) -> None:
        tz = ZoneInfo(account.timezone_name or "UTC")
        today = self._wall().astimezone(tz).date()
        began = trio.current_time()
        sweep = began >= state.next_sweep
        days = self._schedule.restatement_days if sweep else days_back(state.polled_day, today,
                                                                        self._schedule.restatement_days)
        campaigns = {link.meta_campaign_id for link in links}
        figures = await self._figures(provider, account, campaigns, today - timedelta(days=days), today, state)
        await self._send(outbox, figures, links)
        state.polled_day = today
        if sweep:
            state.next_sweep = began + self._schedule.restatement_every

    async def _figures(self, provider: AdsProvider, account: AdAccount, campaigns: set[str], since: date,
                       until: date, state: AccountState) -> list[CampaignFigure]:
        try:
            result = await self._calls.call(state, provider.figures_domains(account.id), functools.partial(
                provider.daily_figures, account, since, until, campaigns))
        except RequestTooLargeError:
            if since >= until:
                raise
            middle = since + (until - since) // 2
            first = await self._figures(provider, account, campaigns, since, middle, state)
            return first + await self._figures(provider, account, campaigns, middle + timedelta(days=1), until, state)
        return result.data

    async def _send(self, outbox: trio.MemorySendChannel[MetricSample], figures: Sequence[CampaignFigure],
                    links: Sequence[campaign_meta.MetaPollTarget]) -> None:
        by_meta = {link.meta_campaign_id: link for link in links}
        observed = self._wall()
        for figure in figures:
            sample = MetricSample(organization_id=self._integration.organization_id,
                                  campaign_id=by_meta[figure.campaign].campaign_id, day=figure.day,
                                  metric=figure.metric, value=figure.value, source=figure.source,
                                  observed_at=observed, currency=figure.currency, lease=self._lease)
            try:
                outbox.send_nowait(sample)
            except trio.WouldBlock:  # the aggregator is behind: we wait for it, and say so
                self._report("waiting_for_aggregator")
                await outbox.send(sample)
                self._report("polling")

    async def _store_statuses(self, links: Sequence[campaign_meta.MetaPollTarget],
                              statuses: dict[str, str | None]) -> None:
        """Record the statuses that differ from those read at the cycle's start; most cycles find none and
        open no transaction (the next cycle reads again what another writer may have set meanwhile). Not
        listed (None) keeps what we knew: see set_meta_effective_status."""
        changed = [(link.meta_campaign_id, status) for link in links
                   if (status := statuses.get(link.meta_campaign_id)) is not None
                   and status != link.meta_effective_status]
        if not changed:
            return
        async with fenced_transaction(self._db, self._lease, "meta_statuses") as tx:
            for meta_id, status in changed:
                await campaign_meta.set_meta_effective_status(tx, self._integration.organization_id, meta_id, status)

    # ---- status --------------------------------------------------------------------------------------

    async def _needs_reauth(self, exc: AuthExpiredError) -> None:
        self._calls.last_error = format_error(exc)
        async with fenced_transaction(self._db, self._lease, "needs_reauth") as tx:
            await integration_store.mark_needs_reauth(tx, self._integration.organization_id, self._integration.id,
                                                      reason=self._calls.last_error)
        self._report("needs_reauth")
        log.warning("%s: the Meta token was refused (%s); needs re-authentication", self._name,
                    self._calls.last_error)

    def _report(self, state: str, *, next_poll_at: float | None = None, parked_until: float | None = None) -> None:
        detail: Detail = {
            "state": state,
            "next_poll_at": self._at(next_poll_at),
            "parked_until": self._at(parked_until),
            "last_success_at": None if self._calls.last_success is None else self._calls.last_success.isoformat(),
            "last_error": self._calls.last_error,
            "consecutive_failures": self._calls.failures,
            "ad_accounts": len(self._accounts),
        }
        self._registry.set_detail(self._name, detail)

    def _at(self, trio_time: float | None) -> str | None:
        if trio_time is None:
            return None
        return (self._wall() + timedelta(seconds=trio_time - trio.current_time())).isoformat()


def meta_kind(
    db: Database, keys: Keys, registry: Registry, samples: trio.MemorySendChannel[MetricSample],
    http_factory: HttpFactory, provider: AdsProviderFactory, *, pacer: Pacer,
    schedule: MetaSchedule = MetaSchedule(),  # noqa: B008 -- frozen
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 -- frozen
    wall: Callable[[], datetime] = utc_now, rng: random.Random | None = None,
    signals: MetaWriteSignals | None = None,
) -> ActorKind:
    """The Meta kind of ``AccountsSupervisor``: one ``MetaAccountActor`` per Meta integration (one user
    token), named ``meta:<integration id>``, all sharing ``pacer`` and reaching Meta through ``provider``, and
    woken by ``signals`` when writes to Meta are queued."""
    seeds = rng if rng is not None else random.Random()

    async def accounts() -> list[Account]:
        rows = await integration_store.accounts_of(db, "meta")
        return [Account(key=str(row.id), organization_id=row.organization_id, runnable=row.status == "connected",
                        version=row.updated_at if row.status == "connected" else None, row=row) for row in rows]

    def build(account: Account, lease: Lease) -> Callable[..., Awaitable[object]]:
        assert isinstance(account.row, integration_store.Integration)
        actor = MetaAccountActor(
            db, account.row, key=keys.token_encryption_key, lease=lease, registry=registry, samples=samples,
            pacer=pacer, http_factory=http_factory, provider=provider, schedule=schedule, retry=retry,
            rng=random.Random(seeds.random()), wall=wall, signals=signals)
        return actor.run

    return ActorKind("meta", accounts, build, channels=(integration_store.INTEGRATIONS_CHANNEL,))
