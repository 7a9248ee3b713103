"""The queued writes to Meta (``engine.store.meta_writes``) of one ad account's linked campaigns, applied for
``MetaAccountActor`` in each of its cycles, before it pauses on Meta what must not spend here.

It decides what each write needs (nothing when Meta already has the value), asks the provider and records the
outcome. A budget write is checked with Meta's validation (``validate_only``) before it is made. The pacing,
the rate-limit waits and the parking are the actor's (``PacedCall``); the retry policy is this module's:

* Meta refused it (any non-retryable ``ProviderError``: its validation, a budget under its minimum), or we
  will not send it (our budget in another currency than the ad account's, a Meta campaign with a daily budget,
  a resume of a campaign that is stopped here, a campaign no longer linked): refused at once, never tried
  again;
* Meta could not be reached, failed for now or rate-limited us (``RetryableError``, ``RateLimitedError``, the
  ad account not reachable with the token): the write stays pending, one more attempt counted, and is tried
  again in the next cycle; the ``MAX_ATTEMPTS``-th such failure refuses it ("gave up after 5 attempts: ...");
* an ``AuthExpiredError`` passes through: the actor stops, and the write waits for the new token.

Every outcome is recorded under the actor's lease (``leases.fenced_transaction``): ``LeaseLost`` (another engine
process claimed the account since) records nothing and passes through, and the write stays pending for the
process that holds the account now.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, TypeVar

from engine.money import DAILY_BUDGET, NOT_PUSHABLE, BudgetNotPushable, lifetime_budget_minor
from engine.provider import AuthExpiredError, ProviderError, RateLimitedError, Result, RetryableError
from engine.store import meta_writes as store
from engine.store.leases import fenced_transaction
from engine.store.meta_writes import MetaWrite, WriteError

if TYPE_CHECKING:
    from engine.lease_plan import Lease
    from engine.providers import AdAccount, AdsProvider
    from engine.store.campaign_meta import MetaPollTarget
    from engine.store.database import Connection, Database

__all__ = ["MAX_ATTEMPTS", "STOPPED", "AccountWrites", "PacedCall", "fail_writes", "refuse_unlinked"]

T = TypeVar("T")
MAX_ATTEMPTS = 5  # tries that fail for now before a write is refused: about an hour at the 15-minute cycle
STOPPED = frozenset({"paused", "completed", "archived"})  # our campaigns that must not spend on Meta
_ACTIVE = "ACTIVE"
_META = "INTEGRATION_ERROR"  # Meta refused or could not be reached (the API's code for it)
_OURS = "CONFLICT"  # we did not send it


class PacedCall(Protocol):
    """``fn()`` through the actor's pacing, tried once: a transient failure raises rather than waits."""

    async def __call__(self, fn: Callable[[], Awaitable[Result[T]]]) -> Result[T]: ...


class _Refused(Exception):
    """Internal: a write we do not send; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccountWrites:
    """The pending writes of one reachable ad account (``account``), for one cycle. Construction does no I/O.

    ``wall`` is the wall clock of the recorded outcomes, ``lease`` the actor's (they are recorded under it);
    ``call`` the actor's paced call.
    """

    def __init__(self, db: Database, provider: AdsProvider, account: AdAccount, *, lease: Lease, call: PacedCall,
                 wall: Callable[[], datetime]) -> None:
        self._db, self._provider, self._account, self._call, self._wall = db, provider, account, call, wall
        self._lease = lease

    async def apply(self, org_id: uuid.UUID, links: Sequence[MetaPollTarget], *, statuses: dict[str, str | None],
                    ours: dict[uuid.UUID, str]) -> None:
        """Apply the pending writes of ``links``' campaigns in id order and record each outcome.

        ``statuses`` (provider campaign id → its status, in the provider's words) says what Meta has; a status
        written is set in it, so that the caller does not write it again. ``ours`` is our campaigns' statuses.

        Error handling: see the module docstring; ``AuthExpiredError``, ``LeaseLost`` and the actor's own
        parking pass through.
        """
        by_campaign = {link.campaign_id: link for link in links}
        for write in await store.pending_writes(self._db, org_id, by_campaign):
            meta_id = by_campaign[write.campaign_id].meta_campaign_id
            try:
                if write.field == "status":
                    await self._status(write, meta_id, statuses, ours.get(write.campaign_id))
                else:
                    await self._budget(write, meta_id)
            except AuthExpiredError:
                raise
            except (RetryableError, RateLimitedError) as exc:
                await _failed(self._db, self._lease, write, _meta_error(exc), now=self._wall())
            except ProviderError as exc:
                async with _recording(self._db, self._lease) as tx:
                    await store.mark_refused(tx, write, _meta_error(exc), now=self._wall())
            except _Refused as exc:
                async with _recording(self._db, self._lease) as tx:
                    await store.mark_refused(tx, write, WriteError(code=_OURS, message=exc.message), now=self._wall())

    async def _status(self, write: MetaWrite, meta_id: str, statuses: dict[str, str | None],
                      ours: str | None) -> None:
        target = write.value["status"]
        if target == _ACTIVE and ours in STOPPED:  # the actor would pause it again at once
            raise _Refused(f"the campaign is {ours} here, so it is not started on Meta")
        if statuses.get(meta_id) != target:
            await self._call(functools.partial(self._provider.set_campaign, self._account.id, meta_id, status=target))
            statuses[meta_id] = target
        async with _recording(self._db, self._lease) as tx:
            await store.mark_applied(tx, write, now=self._wall())

    async def _budget(self, write: MetaWrite, meta_id: str) -> None:
        act, currency = self._account.id, self._account.currency
        try:
            minor = lifetime_budget_minor(Decimal(write.value["budget"]), write.value["currency"], currency)
        except BudgetNotPushable as exc:
            raise _Refused(f"{NOT_PUSHABLE}: {exc.message}") from exc
        budget = (await self._call(functools.partial(self._provider.campaign_budget, act, meta_id))).data
        if budget.daily_minor is not None:
            raise _Refused(f"{NOT_PUSHABLE}: {DAILY_BUDGET}")
        if budget.lifetime_minor != minor:
            for validate_only in (True, False):  # Meta's checks first: a refusal there changes nothing
                await self._call(functools.partial(self._provider.set_campaign, act, meta_id,
                                                   lifetime_budget_minor=minor, validate_only=validate_only))
        async with _recording(self._db, self._lease) as tx:
            await store.mark_applied(tx, write, now=self._wall(), budget_minor=minor, currency=currency)


async def fail_writes(db: Database, lease: Lease, org_id: uuid.UUID, campaign_ids: Collection[uuid.UUID],
                      reason: str, *, now: datetime) -> None:
    """Count a failed attempt, for ``reason`` (Meta's side: the ad account is not reachable), on each pending
    write of ``campaign_ids``; the ``MAX_ATTEMPTS``-th refuses it. Recorded under ``lease`` (or ``LeaseLost``)."""
    for write in await store.pending_writes(db, org_id, campaign_ids):
        await _failed(db, lease, write, WriteError(code=_META, message=f"Meta: {reason}"), now=now)


async def refuse_unlinked(db: Database, lease: Lease, org_id: uuid.UUID, *, now: datetime) -> None:
    """Refuse the pending writes of the organization's campaigns that are not linked to a Meta campaign.
    Recorded under ``lease`` (or ``LeaseLost``)."""
    for write in await store.pending_unlinked(db, org_id):
        error = WriteError(code=_OURS, message="the campaign is not linked to a Meta campaign")
        async with _recording(db, lease) as tx:
            await store.mark_refused(tx, write, error, now=now)


async def _failed(db: Database, lease: Lease, write: MetaWrite, error: WriteError, *, now: datetime) -> None:
    async with _recording(db, lease) as tx:
        if write.attempts + 1 < MAX_ATTEMPTS:
            await store.record_failed_attempt(tx, write, error, now=now)
            return
        gave_up = WriteError(code=error.code, message=f"gave up after {MAX_ATTEMPTS} attempts: {error.message}")
        await store.mark_refused(tx, write, gave_up, now=now)


def _recording(db: Database, lease: Lease) -> AbstractAsyncContextManager[Connection]:
    """The transaction of one write's outcome, under the actor's ``lease``."""
    return fenced_transaction(db, lease, "meta_write_result")


def _meta_error(exc: ProviderError) -> WriteError:
    return WriteError(code=_META, message=f"Meta: {exc.message}")
