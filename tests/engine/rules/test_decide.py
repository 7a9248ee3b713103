"""``engine.rules.decide``: properties over generated campaign histories and generated rules.

- A preview over past instants says exactly what a live evaluator would have done, calling ``decide`` at
  each instant on only the data it had then (ad days up to the instant's day in the ad account, stream and
  listener days up to its UTC day), carrying the cooldown and the state its actions left: no look-ahead.
- A rule never fires again on a campaign within its cooldown.
- A budget step leaves a budget above 0, within the rule's floor (on a cut) and cap (on a raise), and moves
  it by at most the step's limit.
- Rules on one campaign act in their order (the evaluator takes them in order of creation, each seeing the
  state the one before left), so the outcome depends on that order only, and predictably.

Rules: pure, no I/O; rules are built through ``parse_spec`` from generated API JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analytics.attribution import BaselineRule
from engine.analytics.days import utc_day
from engine.guardrail import Guardrail
from engine.rules.actions import CampaignState, PausedBy, plan
from engine.rules.decide import Limits, PreviewFiring, after, decide, preview
from engine.rules.evaluate import applies
from engine.rules.figures import AdDay, CampaignHistory, ListenerDay
from engine.rules.model import FIELDS, TEXT_FIELDS, RuleSpec, parse_spec
from tests.engine.rules.histories import BASELINE, NOW, history

T0 = datetime(2027, 3, 1, tzinfo=UTC)
D0 = T0.date()
TRACK = uuid.UUID("00000000-0000-0000-0000-00000000000a")
FIGURES = sorted(set(FIELDS) - TEXT_FIELDS)
# Every figure, and those behind a baseline more often: their trust changes around the campaign's start.
figures = st.sampled_from(FIGURES) | st.sampled_from(["baselineDailyStreams", "incrementalStreams",
                                                      "costPerIncrementalStream"])
TIMEZONES = [None, "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def _days(low: int, high: int) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: D0 + timedelta(days=n))


ad_days = st.builds(AdDay, spend_minor=st.integers(0, 50_000), impressions=st.integers(0, 20_000),
                    clicks=st.integers(0, 500))
listener_days = st.builds(ListenerDay, opted_in=st.integers(0, 20), plays=st.integers(0, 200))


@st.composite
def histories(draw: st.DrawFn) -> CampaignHistory:
    start = T0 + timedelta(hours=draw(st.integers(0, 96)))
    currency = draw(st.sampled_from(["USD", "JPY"]))
    budget = Decimal(draw(st.integers(1, 10**6))) / (100 if currency == "USD" else 1)
    return CampaignHistory(
        campaign_id=uuid.UUID(int=1), organization_id=uuid.UUID(int=2), name="Spring single", status="active",
        currency=currency, budget=budget, start_date=start,
        end_date=start + timedelta(hours=draw(st.integers(1, 14 * 24))),
        track_id=draw(st.sampled_from([TRACK, TRACK, None])), ads_timezone=draw(st.sampled_from(TIMEZONES)),
        ad_days=draw(st.dictionaries(_days(-1, 18), ad_days, max_size=20)),
        stream_days=draw(st.dictionaries(_days(-12, 18), st.integers(0, 400), min_size=5, max_size=30)),
        first_stream_day=draw(st.none() | _days(-14, -5) | _days(-14, 18)),
        listener_days=draw(st.dictionaries(_days(-1, 18), listener_days, max_size=20)))


def _value(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 4)) == 0:
        return {"field": draw(figures), "multiplier": draw(st.sampled_from(["0.5", "1", "2"])),
                "durationHours": draw(st.none() | st.integers(1, 96))}
    return draw(st.sampled_from(["0", "0.5", "1", "5", "20", "100", "1000"]))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"field": "status", "operator": draw(st.sampled_from(["equals", "not_equals"])), "value": "active"}
    return {"field": draw(figures),
            "operator": draw(st.sampled_from(["greater_than", "less_than", "gte", "lte", "equals", "not_equals"])),
            "value": _value(draw), "durationHours": draw(st.none() | st.sampled_from([1, 24, 48, 72, 168]))}


budget_configs = st.fixed_dictionaries(
    {"adjustmentType": st.sampled_from(["percent", "amount"]),
     "value": st.sampled_from([-90, -50, -20, -10, "-0.5", "0.5", 10, 20, 50, 300])},
    optional={"floor": st.sampled_from(["0.5", "10.004", "50", "1000", "5000"]),
              "cap": st.sampled_from(["1", "99.995", "200", "5000", "100000"]),
              "maxStepPercent": st.sampled_from([1, 10, "33.3", 100, 500])},
).filter(lambda c: "floor" not in c or "cap" not in c or Decimal(c["floor"]) <= Decimal(c["cap"]))
actions = st.one_of(st.sampled_from([{"type": t} for t in ("pause_campaign", "resume_campaign", "send_alert")]),
                    st.builds(lambda c: {"type": "adjust_budget", "config": c}, budget_configs))


@st.composite
def specs(draw: st.DrawFn) -> RuleSpec:
    return parse_spec({"conditions": draw(st.lists(conditions(), min_size=1, max_size=3)),
                       "match": draw(st.sampled_from(["all", "any"])), "action": draw(actions),
                       "cooldownHours": draw(st.sampled_from([0, 1, 6, 24, 48]))})


@st.composite
def states(draw: st.DrawFn, history: CampaignHistory) -> CampaignState:
    status = draw(st.sampled_from(["active", "paused", "draft"]))
    paused_by = draw(st.sampled_from(["rule", "guardrail", "member"])) if status == "paused" else None
    guardrail = Guardrail(enabled=draw(st.booleans()), percent=draw(st.none() | st.integers(50, 150)))
    return CampaignState(status=status, budget=history.budget, currency=history.currency, paused_by=paused_by,
                         guardrail=guardrail)


limits = st.builds(Limits, baseline=st.just(BaselineRule(days=7, min_days=3, max_noise=2.0)),
                   max_budget_step=st.integers(1, 50), guardrail_percent=st.integers(50, 150))
# Half of them around the campaign's start, where windows, baselines and trust change.
instants = st.lists(st.integers(-96, 96) | st.integers(-96, 20 * 24), min_size=1, max_size=40, unique=True).map(
    lambda hours: [T0 + timedelta(hours=h, minutes=17) for h in sorted(hours)])


def _known(history: CampaignHistory, now: datetime) -> CampaignHistory:
    """The history as a live evaluator had it at ``now``: no day after now's in its own clock."""
    ads_today = now.astimezone(ZoneInfo(history.ads_timezone) if history.ads_timezone else UTC).date()
    today, first = utc_day(now), history.first_stream_day
    return msgspec.structs.replace(
        history, ad_days={d: v for d, v in history.ad_days.items() if d <= ads_today},
        stream_days={d: v for d, v in history.stream_days.items() if d <= today},
        listener_days={d: v for d, v in history.listener_days.items() if d <= today},
        first_stream_day=first if first is not None and first <= today else None)


def _live(spec: RuleSpec, history: CampaignHistory, state: CampaignState, moments: Sequence[datetime],
          limits: Limits) -> list[PreviewFiring]:
    """What the live evaluator does: ``decide`` on what it knows at each instant, keeping the cooldown it
    stored and applying each plan."""
    fired: list[PreviewFiring] = []
    last: datetime | None = None
    for now in moments:
        if not applies(spec, history):
            continue
        decision = decide(spec, _known(history, now), state, now, last_fired=last, limits=limits)
        if decision.plan is None:
            continue
        last, state = now, after(state, decision.plan)
        fired.append(PreviewFiring(
            at=now, campaign_id=str(history.campaign_id),
            conditions=[msgspec.to_builtins(c) for c in decision.evaluation.conditions],
            outcome=decision.plan.outcome, detail=decision.plan.detail, before=decision.plan.before,
            after=decision.plan.after))
    return fired


@settings(max_examples=300)  # look-ahead shows only on some instants before a start: search wider
@given(st.data(), histories(), specs(), instants, limits)
def test_a_preview_says_what_live_evaluation_did_on_the_data_it_had(
        data: st.DataObject, history: CampaignHistory, spec: RuleSpec, moments: list[datetime],
        limits: Limits) -> None:
    state = data.draw(states(history))
    assert preview(spec, history, state, moments, limits=limits) == _live(spec, history, state, moments, limits)


@given(st.data(), histories(), specs(), instants, limits)
def test_a_rule_never_fires_again_within_its_cooldown(
        data: st.DataObject, history: CampaignHistory, spec: RuleSpec, moments: list[datetime],
        limits: Limits) -> None:
    fired = preview(spec, history, data.draw(states(history)), moments, limits=limits)
    gaps = [later.at - earlier.at for earlier, later in pairwise(fired)]
    assert all(gap >= timedelta(hours=spec.cooldown_hours) for gap in gaps)


def _assert_step_in_bounds(before: Decimal, after_: Decimal, currency: str, config: dict[str, Any],
                           default_step: int) -> None:
    assert after_ > 0
    assert abs(after_ - before) <= before * Decimal(config.get("maxStepPercent", default_step)) / 100
    assert after_ == after_.quantize(Decimal(1 if currency in ("JPY", "KRW") else "0.01"))
    if after_ < before:
        assert Decimal(config["value"]) < 0 and after_ >= Decimal(config.get("floor", 0))
    else:
        assert Decimal(config["value"]) > 0 and after_ <= Decimal(config.get("cap", "Infinity"))


@given(st.integers(1, 10**8), st.sampled_from(["USD", "JPY", "EUR", "KRW"]), budget_configs, st.integers(1, 50))
def test_a_budget_step_stays_above_0_within_its_floor_or_cap_and_its_limit(
        minor: int, currency: str, config: dict[str, Any], default_step: int) -> None:
    budget = Decimal(minor) / (1 if currency in ("JPY", "KRW") else 100)
    action = parse_spec({"condition": {"field": "spend", "operator": "gte", "value": 0},
                         "action": {"type": "adjust_budget", "config": config}}).action
    planned = plan(action, CampaignState(status="active", budget=budget, currency=currency),
                   max_step_percent=default_step, guardrail_holds=False)
    if planned.outcome == "applied":
        assert planned.budget is not None
        _assert_step_in_bounds(budget, planned.budget, currency, config, default_step)


@given(st.data(), histories(), budget_configs, instants, limits)
def test_each_budget_step_of_a_preview_stays_in_bounds(
        data: st.DataObject, history: CampaignHistory, config: dict[str, Any], moments: list[datetime],
        limits: Limits) -> None:
    spec = parse_spec({"condition": data.draw(conditions()), "action": {"type": "adjust_budget", "config": config},
                       "cooldownHours": 0})
    for firing in preview(spec, history, data.draw(states(history)), moments, limits=limits):
        if firing.outcome == "applied":
            _assert_step_in_bounds(Decimal(firing.before["budget"]), Decimal(firing.after["budget"]),
                                   history.currency, config, limits.max_budget_step)


def _fold(specs_: Sequence[RuleSpec], history: CampaignHistory, state: CampaignState, now: datetime,
          limits: Limits) -> tuple[CampaignState, list[str | None]]:
    """The rules on one campaign in the evaluator's order, each deciding on the state the one before left:
    the final state, and each rule's outcome (``None``: it did not fire)."""
    outcomes: list[str | None] = []
    for spec in specs_:
        decision = decide(spec, history, state, now, last_fired=None, limits=limits)
        outcomes.append(None if decision.plan is None else decision.plan.outcome)
        state = state if decision.plan is None else after(state, decision.plan)
    return state, outcomes


ALWAYS = {"field": "spend", "operator": "gte", "value": 0}
PAUSE = parse_spec({"condition": ALWAYS, "action": {"type": "pause_campaign"}})
RESUME = parse_spec({"condition": ALWAYS, "action": {"type": "resume_campaign"}})


@given(histories(), specs(), specs(), st.integers(0, 20 * 24), limits, st.data())
def test_rules_in_one_batch_resolve_the_same_way_every_time(
        history: CampaignHistory, first: RuleSpec, second: RuleSpec, hour: int, limits: Limits,
        data: st.DataObject) -> None:
    state, now = data.draw(states(history)), T0 + timedelta(hours=hour)
    assert _fold([first, second], history, state, now, limits) == _fold([first, second], history, state, now, limits)


@given(histories(), st.sampled_from([None, "rule", "guardrail"]), st.integers(0, 20 * 24), limits)
def test_the_later_of_a_pause_and_a_resume_wins(
        history: CampaignHistory, paused_by: PausedBy | None, hour: int, limits: Limits) -> None:
    now = history.start_date + timedelta(hours=hour)  # spend is counted from the campaign's start
    state = CampaignState(status="active" if paused_by is None else "paused", budget=history.budget,
                          currency=history.currency, paused_by=paused_by,
                          guardrail=Guardrail(enabled=False))
    paused_then_resumed, _ = _fold([PAUSE, RESUME], history, state, now, limits)
    resumed_then_paused, _ = _fold([RESUME, PAUSE], history, state, now, limits)
    assert (paused_then_resumed.status, paused_then_resumed.paused_by) == ("active", None)
    assert (resumed_then_paused.status, resumed_then_paused.paused_by) == ("paused", "rule")


def test_a_members_pause_holds_in_either_order() -> None:
    state = CampaignState(status="paused", budget=Decimal(100), currency="USD", paused_by="member")
    at = Limits(baseline=BASELINE)
    assert _fold([PAUSE, RESUME], history(), state, NOW, at) == (state, [None, "refused"])
    assert _fold([RESUME, PAUSE], history(), state, NOW, at) == (state, ["refused", None])
