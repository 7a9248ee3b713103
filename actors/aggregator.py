"""The aggregator: turns the pollers' ``MetricSample``s into stored facts, running totals and fired alerts.

It owns its inbox, a bounded trio channel: pollers each get a clone of the send side (``sender()``), and a
full inbox makes them wait, so a slow database slows polling instead of dropping samples. Each batch is
one transaction: facts, totals, alerts, their notifications, their webhook events (the outbox) and the
status changes they call for (completed at the end date; paused by the budget guardrail) commit together
or not at all. It does not deliver webhooks (the dispatcher does) nor talk to WebSockets: each
inserted alert is NOTIFYed at commit (``alerts.ALERTS_CHANNEL``), and every API process's LiveHub pushes it
to the live connections that asked for alerts.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NoReturn

import msgspec
import trio

from actors.meta_signals import MetaWriteSignals
from config.sections import AlertsSettings, RulesSettings
from engine import alert_rules, guardrail
from engine.audit import GUARDRAIL, AuditContext
from engine.clock import utc_now
from engine.messages import MetricSample
from engine.metrics import AGGREGATOR_BATCH_DURATION, AGGREGATOR_BATCH_SAMPLES, FENCED_SAMPLES
from engine.store import alerts as alert_store
from engine.store import audit_log, campaigns, facts, leases, meta_writes, rule_inputs, rule_runs
from engine.store.database import Connection, Database
from engine.store.outbox import enqueue_events
from engine.supervisor import ChildSpec, Restart

__all__ = ["AGGREGATOR", "AGGREGATOR_SWEEP", "MAX_BATCH", "Aggregator"]

log = logging.getLogger(__name__)

AGGREGATOR = "aggregator"  # its name in the supervision tree and in /v1/engine/status
AGGREGATOR_SWEEP = "aggregator-sweep"  # the sweep's: a singleton (actors/singletons.py), one process sweeps
# Samples per transaction at most. Large, because a batch's cost is mostly per campaign (totals, rules), not
# per sample: under load each batch carries many samples of the same campaigns. Idle, a batch is what
# arrives within ``linger``, so a large maximum adds no latency. 4,096 rather than 2,048: the totals and the
# rules cost about 12 ms a batch of 100 campaigns whatever its size, and the pipeline bench went from about
# 0.19-0.26 to 0.25-0.32 of the raw INSERT.
MAX_BATCH = 4096

# Alerts people see in their notifications; metrics.updated fires up to once a minute per campaign and
# is for machines (webhooks, dashboards), so it would drown the rest.
_NOTIFY = frozenset({"budget.warning", "budget.pacing", "goal.reached", "campaign.completed"})
_FINISHED = frozenset({"completed", "archived"})  # their late facts still count; they fire nothing
# Dedupe keys known to be in the alerts table, so the rules do not offer them again in every batch (a threshold
# crossed stays crossed; each was one more conflict for the INSERT to find). Alerts are never deleted but
# with their campaign, so a known key stays true; past this many the memo starts over, and a key it forgot
# costs only one conflict in the database, which still dedupes.
_KNOWN_KEYS = 100_000


def _fired(alert: alert_store.Alert, title: str) -> dict[str, object]:
    """``alert.fired``'s data: any notified alert in one shape, for consumers with one handler."""
    return {"alertId": alert.id, "type": alert.type, "title": title, "campaignId": alert.campaign_id,
            "data": alert.data, "firedAt": alert.fired_at}


def _events(alert: alert_store.Alert, titles: dict[str, str]) -> list[tuple[uuid.UUID, str, dict[str, object]]]:
    """The webhook events of an inserted alert: its own type, and ``alert.fired`` for those people are notified of."""
    own = (alert.organization_id, alert.type, alert.data)
    if alert.type not in _NOTIFY:
        return [own]
    return [own, (alert.organization_id, "alert.fired", _fired(alert, titles[alert.dedupe_key]))]


class Aggregator:
    """Receives ``MetricSample``s and writes them, with what they fire, one transaction per batch.

    A batch is what is already waiting in the inbox, up to ``max_batch`` samples, plus what arrives
    within ``linger`` seconds of the first one. ``capacity`` bounds the inbox (samples, not batches).
    ``wall`` is the wall clock for rules and stored timestamps; ``rules`` holds the guardrail's default percent.
    The sweep (``sweeper``, every ``sweep_every`` seconds) is a child of its own: every engine process runs
    an aggregator for its own account actors, one of them sweeps.
    ``on_changed`` hears, after each commit, which (organization, campaign) totals changed: the rule
    evaluator's ``changed``; ``signals`` wakes the Meta account actors of the organizations whose campaigns
    the guardrail paused, so the pause reaches Meta at once.
    """

    def __init__(self, db: Database, config: AlertsSettings, *, capacity: int = 64, max_batch: int = MAX_BATCH,
                 linger: float = 0.01, wall: Callable[[], datetime] = utc_now, sweep_every: float = 300.0,
                 rules: RulesSettings = RulesSettings(),  # noqa: B008 -- frozen
                 on_changed: Callable[[list[tuple[uuid.UUID, uuid.UUID]]], None] | None = None,
                 signals: MetaWriteSignals | None = None) -> None:
        self._db, self._config, self._wall, self._rules = db, config, wall, rules
        self._on_changed, self._signals = on_changed, signals
        self._touched: list[tuple[uuid.UUID, uuid.UUID]] = []  # changed in the open transaction
        self._tripped: list[uuid.UUID] = []  # organizations whose campaigns it paused at their guardrail
        self._fired: set[str] = set()  # dedupe keys in the alerts table, as of our last commit
        self._firing: list[str] = []  # dedupe keys in the alerts table once the open transaction commits
        self._max_batch, self._linger, self._sweep_every = max_batch, linger, sweep_every
        self._send, self._inbox = trio.open_memory_channel[MetricSample](capacity)
        # A batch and a sweep share _touched and _tripped: one transaction of ours at a time.
        self._one_transaction = trio.Lock()
        self._pending: list[MetricSample] = []  # received, not yet committed: retried after a restart
        self._next: list[MetricSample] = []  # received while _pending is written: the next batch
        self._warned: set[tuple[uuid.UUID, str]] = set()  # (campaign, currency) spend skips logged
        self.samples_written = 0
        self.alerts_fired = 0

    def sender(self) -> trio.MemorySendChannel[MetricSample]:
        """A new send side for one producer, which must close it when it stops."""
        return self._send.clone()

    def stop(self) -> None:
        """The graceful stop: close our own send side, so ``run`` returns once every producer's is closed
        and the inbox is drained."""
        self._send.close()

    def child_spec(self) -> ChildSpec:
        """How the supervisor runs us: restarted after a crash only, stopped by draining."""
        return ChildSpec(AGGREGATOR, self.run, restart=Restart.TRANSIENT, stop=self.stop)

    def sweeper(self) -> ChildSpec:
        """How the sweep runs: restarted after any exit, stopped by cancellation (between transactions or
        rolling one back: the next sweep does it again)."""
        return ChildSpec(AGGREGATOR_SWEEP, self.sweep_forever)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reports started at once, writes batches until the inbox is closed and drained, then returns.

        The next batch is received while one is written (``_write_receiving``), so the database and the
        producers work at once. Error handling: a store error propagates (the supervisor restarts us); the
        batch it failed on, and the samples received meanwhile, are kept and written first on the next
        ``run``, so a crash loses no sample.
        """
        task_status.started()
        self._pending += self._next
        self._next = []
        ended = False
        while True:
            if not self._pending:
                try:
                    self._pending.append(await self._inbox.receive())
                except trio.EndOfChannel:
                    return
                ended = await self._take(self._pending, self._linger)
            if ended:
                await self._write()
                return
            ended = await self._write_receiving()
            self._pending, self._next = self._next, []

    async def sweep_forever(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        """Reports started at once, then every ``sweep_every`` seconds evaluates and completes the campaigns
        that ended without a sample since (``campaign.completed`` must not wait for one that never comes).
        A store error propagates (the supervisor restarts us)."""
        task_status.started()
        while True:
            await self._sweep()
            await trio.sleep(self._sweep_every)

    async def _take(self, batch: list[MetricSample], linger: float) -> bool:
        """Add to ``batch`` what is waiting, then what arrives within ``linger`` seconds, up to ``max_batch``
        samples; True when the inbox ended."""
        with trio.move_on_after(linger):
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._inbox.receive_nowait())
                except trio.WouldBlock:
                    try:
                        batch.append(await self._inbox.receive())
                    except trio.EndOfChannel:
                        return True
                except trio.EndOfChannel:
                    return True
        return False

    async def _write_receiving(self) -> bool:
        """Write ``_pending`` while receiving the next batch into ``_next`` (up to ``max_batch``: then the
        inbox fills and the producers wait); True when the inbox ended meanwhile."""
        ended = False

        async def receive() -> None:
            nonlocal ended
            ended = await self._take(self._next, math.inf)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await self._write()
            nursery.cancel_scope.cancel()  # receive() loses nothing when cancelled: a sample is taken or not
        return ended

    async def _write(self) -> None:
        async with self._one_transaction:
            now, started = self._wall(), trio.current_time()
            self._touched, self._tripped, self._firing = [], [], []
            async with self._db.transaction() as tx:
                fired = await self.write_batch(tx, self._pending, now)
            AGGREGATOR_BATCH_SAMPLES.observe(len(self._pending))
            AGGREGATOR_BATCH_DURATION.observe(trio.current_time() - started)
            self.samples_written += len(self._pending)
            self._pending = []
            self.alerts_fired += len(fired)
            self._announce()

    async def write_batch(self, tx: Connection, samples: Sequence[MetricSample],
                          now: datetime) -> list[alert_store.Alert]:
        """Everything one batch does, in ``tx``: facts, totals, rules, alerts, notifications and webhook
        events. Returns the alerts really inserted (those not fired before).

        First the fence: a sample sent under a lease that another engine process has claimed since (its
        sender stalled past the TTL) is dropped and counted, never written; the check locks the leases it
        read until we commit, so no claim slips in between."""
        samples = await self._fenced(tx, samples)
        touched = await facts.upsert_samples(tx, samples)
        return await self._fire(tx, await facts.recompute_totals(tx, touched), now)

    async def _fenced(self, tx: Connection, samples: Sequence[MetricSample]) -> Sequence[MetricSample]:
        sent_under = {sample.lease.name: sample.lease.token for sample in samples if sample.lease is not None}
        stale = await leases.fenced(tx, sent_under)
        if not stale:
            return samples
        kept = [sample for sample in samples if sample.lease is None or sample.lease.name not in stale]
        FENCED_SAMPLES.inc(len(samples) - len(kept))
        log.warning("dropped %d sample(s) sent under leases another engine process holds now: %s",
                    len(samples) - len(kept), ", ".join(sorted(stale)))
        return kept

    async def _sweep(self) -> None:
        async with self._one_transaction:
            now = self._wall()
            self._touched, self._tripped, self._firing = [], [], []
            async with self._db.transaction() as tx:
                ended = await facts.ended_running(tx, now)
                fired = await self._fire(tx, await facts.recompute_totals(tx, ended), now) if ended else []
            self.alerts_fired += len(fired)
            self._announce()

    def _announce(self) -> None:
        """Tell ``on_changed`` what the committed transaction changed, and ``signals`` whom it paused;
        remember the dedupe keys it fired or found fired."""
        if len(self._fired) + len(self._firing) > _KNOWN_KEYS:
            self._fired.clear()
        self._fired.update(self._firing)
        if self._on_changed is not None and self._touched:
            self._on_changed(self._touched)
        if self._signals is not None and self._tripped:
            self._signals.wake(self._tripped)
        self._touched, self._tripped, self._firing = [], [], []

    async def _fire(self, tx: Connection, totals: Sequence[facts.CampaignTotals],
                    now: datetime) -> list[alert_store.Alert]:
        """Evaluate the rules on ``totals`` and record what fires: alerts, notifications, webhook events
        (each alert's own type, and ``alert.fired`` for those people are notified of), then the status
        changes (``_move``). Completed and archived campaigns fire nothing."""
        running = [campaign for campaign in totals if campaign.status not in _FINISHED]
        self._touched += [(c.organization_id, c.campaign_id) for c in running if c.changed]
        candidates = [alert for campaign in running for alert in self._evaluate(campaign, now)]
        inserted = await alert_store.insert_alerts(tx, [new for new, _ in candidates], fired_at=now)
        self._firing += [new.dedupe_key for new, _ in candidates]  # inserted now, or before: there at commit
        titles = {new.dedupe_key: title for new, title in candidates}
        notified = [alert for alert in inserted if alert.type in _NOTIFY]
        await alert_store.insert_notifications(
            tx, [(alert, titles[alert.dedupe_key]) for alert in notified], created_at=now)
        # Not live: the alert's own NOTIFY pushes it to live connections.
        await enqueue_events(tx, [event for alert in inserted for event in _events(alert, titles)], now=now)
        for campaign in running:
            await self._move(tx, campaign, now)
        return inserted

    async def _move(self, tx: Connection, campaign: facts.CampaignTotals, now: datetime) -> None:
        """Complete a running campaign past its end date (the one place that does it by the calendar), or
        pause an active one whose spend reached its budget guardrail (``engine.guardrail``), with the
        trip as its ``pausedReason`` and ``campaign.paused``'s cause; the Meta account actor then pauses
        its Meta campaign. recompute_totals locked the row, so the status we read holds until we commit: a
        member's concurrent launch or pause waits for us and then meets the new status."""
        org_id, campaign_id = campaign.organization_id, campaign.campaign_id
        if campaign.end_date <= now and campaign.status in alert_rules.COMPLETABLE:
            # Not announced: the campaign.completed alert fired in this batch (or earlier) is its event.
            await campaigns.set_campaign_status(tx, org_id, campaign_id, expected_from=alert_rules.COMPLETABLE,
                                                to="completed", announce=False)
            return
        trip = guardrail.tripped(campaign.guardrail, self._rules.guardrail_percent, budget=campaign.budget,
                                 budget_spent=campaign.budget_spent, currency=campaign.currency)
        if campaign.status != "active" or trip is None:
            return
        cause = guardrail.PauseCause(guardrail=trip)
        async with audit_log.acting_in(tx, AuditContext(actor=GUARDRAIL, source="guardrail", organization_id=org_id)):
            await campaigns.set_campaign_status(tx, org_id, campaign_id, expected_from=("active",), to="paused",
                                                reason=guardrail.PausedReason(cause=cause, at=now))
        await self._record_trip(tx, campaign, cause, now)
        self._tripped.append(org_id)
        log.info("campaign %s paused by its budget guardrail: %s of %s %s spent (%d %%)", campaign_id,
                 trip.budget_spent, trip.budget, trip.currency, trip.percent)

    @staticmethod
    async def _record_trip(tx: Connection, campaign: facts.CampaignTotals, cause: guardrail.PauseCause,
                           now: datetime) -> None:
        """The guardrail's pause in the campaign's history (``GET /v1/campaigns/{id}/history``), as a
        notification members read, and, for a campaign linked to Meta, as a queued PAUSED write whose answer
        the history shows."""
        org_id, campaign_id = campaign.organization_id, campaign.campaign_id
        locked = await rule_inputs.lock_campaign(tx, org_id, campaign_id)
        linked = locked is not None and locked.linked
        run_id = await rule_runs.insert_run(
            tx, org_id, rule_id=None, rule_name=None, campaign_id=campaign_id, manual=False, user_id=None,
            dry_run=False, at=now, inputs={"guardrail": msgspec.to_builtins(cause.guardrail)},
            action={"type": "pause_campaign", "config": {}}, outcome="applied",
            detail="the budget guardrail: spend reached its percent of the budget",
            before={"status": "active"}, after={"status": "paused"}, meta=None)  # fmt: skip
        await alert_store.insert_notification(
            tx, org_id, type="campaign.paused", created_at=now, data={"campaignId": campaign_id, "runId": run_id},
            title=f"“{campaign.name}” paused at its budget guardrail: {campaign.budget_spent:.2f} of its"
                  f" {campaign.budget:.2f} {campaign.currency} budget spent")
        if linked:
            await meta_writes.enqueue_write(tx, org_id, campaign_id, field="status", value={"status": "PAUSED"},
                                            cause=cause, run_id=run_id, now=now)

    def _evaluate(self, campaign: facts.CampaignTotals, now: datetime) -> list[tuple[alert_store.NewAlert, str]]:
        self._log_foreign(campaign)
        state = alert_rules.CampaignState(
            campaign_id=campaign.campaign_id, name=campaign.name, currency=campaign.currency,
            budget=campaign.budget, budget_spent=campaign.budget_spent, start_date=campaign.start_date,
            end_date=campaign.end_date, goals=campaign.goals, changed=campaign.changed, status=campaign.status,
            totals={"impressions": campaign.impressions, "clicks": campaign.clicks, "streams": campaign.streams},
        )  # fmt: skip
        return [
            (alert_store.NewAlert(organization_id=campaign.organization_id, campaign_id=firing.campaign_id,
                                  type=firing.type, dedupe_key=firing.dedupe_key, title=firing.title,
                                  data=firing.data), firing.title)
            for firing in alert_rules.evaluate(state, now, self._config, self._fired)
        ]

    def _log_foreign(self, campaign: facts.CampaignTotals) -> None:
        for currency in campaign.foreign_currencies:
            if (campaign.campaign_id, currency) not in self._warned:
                self._warned.add((campaign.campaign_id, currency))
                log.warning("campaign %s is in %s: its spend facts in %r are left out of budgetSpent",
                            campaign.campaign_id, campaign.currency, currency or None)
