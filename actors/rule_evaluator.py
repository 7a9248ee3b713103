"""The rule evaluator: runs the organizations' active rules on their campaigns and applies what fires
(``actors.rule_firing``).

When: the aggregator tells it which campaigns' figures changed once its batch has committed
(``changed``: ``run``, in every engine process), and every ``[rules] evaluate_every`` seconds (and at
start) it evaluates every active rule on every campaign it applies to, for conditions that turn true with
time alone (a window that fills, a pacing projection): ``run_schedule``, a singleton
(``actors/singletons.py``) that one engine process runs. Which campaigns: active and paused ones (a resume
rule needs the paused).

Order: on each campaign, rules run in the order they were created (then by id), each on the campaign as
the previous one left it, in one transaction per batch of campaigns: of a pause rule and a budget rule
created after it, the pause acts first and the budget rule then sees a paused campaign. docs/rules.md
says the same.

Error handling: a store error propagates (the supervisor restarts us, or waits while the database is
down); the campaigns waiting to be evaluated are kept, and the schedule covers anything missed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import trio

from actors.meta_signals import MetaWriteSignals
from actors.rule_firing import fire
from config.sections import AnalyticsSettings, RulesSettings
from engine.analytics.attribution import BaselineRule
from engine.clock import utc_now
from engine.rules.decide import Limits, decide
from engine.rules.evaluate import applies
from engine.rules.model import Rule
from engine.store import rule_inputs
from engine.store import rules as rule_store
from engine.store.database import Database
from engine.supervisor import ChildSpec

__all__ = ["RULES", "RULE_SCHEDULE", "RuleEvaluator"]

log = logging.getLogger(__name__)

RULES = "rules"  # its name in the supervision tree and in /v1/engine/status
RULE_SCHEDULE = "rule-schedule"  # the scheduled rounds' name
_WATCHED = ("active", "paused")


class RuleEvaluator:
    """Evaluates rules on changed campaigns as they are reported, and on all of them on a schedule.
    ``chunk`` bounds the campaigns of one transaction; ``speed`` is the domain clock's (the sandbox's
    simulated time), which shortens the schedule's real interval to the same domain interval. ``signals``
    wakes the organization's Meta account actors after a transaction in which a rule fired, so what it
    queued for Meta is written at once."""

    def __init__(self, db: Database, settings: RulesSettings, analytics: AnalyticsSettings, *,
                 wall: Callable[[], datetime] = utc_now, chunk: int = 200, speed: float = 1.0,
                 signals: MetaWriteSignals | None = None) -> None:
        self._db, self._wall, self._chunk, self._signals = db, wall, chunk, signals
        self._every = settings.evaluate_every / speed
        self._baseline_days = analytics.baseline_days
        self._limits = Limits(
            baseline=BaselineRule(days=analytics.baseline_days, min_days=analytics.min_baseline_days,
                                  max_noise=analytics.max_baseline_noise),
            max_budget_step=settings.max_budget_step, guardrail_percent=settings.guardrail_percent)
        self._changed: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        # The schedule and the changed campaigns' evaluation are two tasks: one transaction of ours at a time,
        # so a rule's cooldown, read before it fires, is never read by the other before this one commits.
        self._one_transaction = trio.Lock()
        self._wake = trio.Event()
        self.evaluations = 0
        self.firings = 0

    def changed(self, campaigns: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """(organization, campaign) pairs whose figures changed: evaluated soon. Never blocks."""
        for org_id, campaign_id in campaigns:
            self._changed[org_id].add(campaign_id)
        if self._changed:
            self._wake.set()

    def child_spec(self) -> ChildSpec:
        """The evaluation of changed campaigns."""
        return ChildSpec(RULES, self.run)

    def schedule_spec(self) -> ChildSpec:
        """The scheduled rounds (``run_schedule``)."""
        return ChildSpec(RULE_SCHEDULE, self.run_schedule)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reports started at once, then evaluates the campaigns reported ``changed``, forever."""
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._changed:
                org_id, campaign_ids = self._changed.popitem()
                try:
                    await self.evaluate(org_id, sorted(campaign_ids))
                except BaseException:  # kept, to be evaluated after the restart
                    self._changed[org_id] |= campaign_ids
                    raise

    async def run_schedule(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reports started at once, then runs ``evaluate_all`` now and every ``evaluate_every`` seconds."""
        task_status.started()
        next_round = trio.current_time()
        while True:
            await trio.sleep_until(next_round)
            await self.evaluate_all()
            # On a fixed cadence from the start; a round that overran its interval is not caught up.
            next_round = max(next_round + self._every, trio.current_time())

    async def evaluate_all(self) -> None:
        """Every active rule on every campaign it applies to (the schedule's round)."""
        rules = await rule_store.active_rules(self._db)
        by_org: dict[uuid.UUID, list[Rule]] = defaultdict(list)
        for rule in rules:
            by_org[rule.organization_id].append(rule)
        for org_id, org_rules in by_org.items():
            ids: set[uuid.UUID] = set()
            for rule in org_rules:
                scope = rule.spec.applies_to
                ids.update(await rule_inputs.rule_campaign_ids(self._db, org_id, statuses=_WATCHED,
                                                               campaigns=scope.campaigns, tracks=scope.tracks))
            await self._evaluate(org_id, sorted(ids), org_rules)

    async def evaluate(self, org_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID]) -> None:
        """The organization's active rules on ``campaign_ids`` (those not active or paused are skipped)."""
        rules = await rule_store.active_rules(self._db, [org_id])
        if rules:
            await self._evaluate(org_id, campaign_ids, rules)

    async def _evaluate(self, org_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID], rules: Sequence[Rule]) -> None:
        for start in range(0, len(campaign_ids), self._chunk):
            chunk = campaign_ids[start:start + self._chunk]
            now, firings = self._wall(), 0  # counted here: a round and a changed campaign's evaluation interleave
            async with self._one_transaction, self._db.transaction() as tx:
                loaded = await rule_inputs.load_histories(tx, org_id, chunk, baseline_days=self._baseline_days)
                fired = await rule_store.last_fired(tx, [rule.id for rule in rules], chunk)
                evaluated: set[uuid.UUID] = set()
                for campaign_id in chunk:
                    if campaign_id not in loaded or loaded[campaign_id][1].status not in _WATCHED:
                        continue
                    history, state = loaded[campaign_id]
                    for rule in rules:
                        if not applies(rule.spec, history):
                            continue
                        evaluated.add(rule.id)
                        self.evaluations += 1
                        decision = decide(rule.spec, history, state, now, limits=self._limits,
                                          last_fired=fired.get((rule.id, campaign_id)))
                        if decision.plan is not None:
                            self.firings += 1
                            firings += 1
                            state = await fire(tx, rule, history, state, decision, now)
                await rule_store.mark_evaluated(tx, sorted(evaluated), now)
            if self._signals is not None and firings:
                self._signals.wake([org_id])
