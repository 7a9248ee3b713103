"""``engine.alert_rules``: pure alert rules, tested with hypothesis.

Rules: no I/O and no clock; "already fired" is simulated the way the store does it, by keeping the dedupe
keys of what fired and passing them back in.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from config.sections import AlertsSettings
from engine.alert_rules import CampaignState, evaluate, projected_spend

CONFIG = AlertsSettings()
START = datetime(2024, 6, 1, tzinfo=UTC)
END = START + timedelta(days=30)
NOW = START + timedelta(days=15)
CAMPAIGN = uuid.UUID(int=7)


def _state(spent: Decimal | int = 0, budget: int = 1000, **fields: object) -> CampaignState:
    base: dict[str, object] = dict(campaign_id=CAMPAIGN, name="Summer", currency="USD", budget=Decimal(budget),
                                   budget_spent=Decimal(spent), start_date=START, end_date=END, changed=False)
    return CampaignState(**{**base, **fields})  # type: ignore[arg-type]


def _run(states: list[CampaignState], now: datetime = NOW, config: AlertsSettings = CONFIG) -> list[str]:
    """Evaluate states in turn, as the aggregator does, returning every dedupe key fired, in order."""
    fired: list[str] = []
    for state in states:
        fired += [f.dedupe_key for f in evaluate(state, now, config, frozenset(fired))]
    return fired


_cents = st.integers(0, 250_000).map(lambda c: Decimal(c) / 100)
_moments = st.integers(-2 * 24, 40 * 24).map(lambda hours: START + timedelta(hours=hours))
_counts = st.dictionaries(st.sampled_from(["streams", "clicks", "impressions"]), st.integers(0, 2000))


@st.composite
def _states(draw: st.DrawFn) -> CampaignState:
    """Any campaign the aggregator could hand over: spend, budget, status, totals, goals and change flag."""
    return _state(draw(_cents), budget=draw(st.integers(0, 2000)), totals=draw(_counts), goals=draw(_counts),
                  changed=draw(st.booleans()), status=draw(st.sampled_from(["draft", "active", "paused"])))


@given(st.lists(_cents, min_size=1, max_size=30))
def test_each_threshold_fires_exactly_once_whatever_the_path(spends: list[Decimal]) -> None:
    """Spend going up and down (restatements) fires each crossed threshold once, never one not reached."""
    fired = [k for k in _run([_state(s) for s in spends]) if k.startswith("budget.warning")]
    peak = max(spends)
    expected = {f"budget.warning:{CAMPAIGN}:{f!r}" for f in CONFIG.fractions() if peak >= 1000 * Decimal(repr(f))}
    assert sorted(fired) == sorted(expected)  # once each: no duplicates in the list


@given(st.lists(st.floats(0.01, 2.0), min_size=1, max_size=5, unique=True), _cents)
def test_no_warning_before_its_threshold(thresholds: list[float], spent: Decimal) -> None:
    config = AlertsSettings(budget_thresholds=thresholds)
    for firing in evaluate(_state(spent), NOW, config):
        if firing.type == "budget.warning":
            threshold = firing.data["threshold"]
            assert isinstance(threshold, float) and spent >= Decimal(1000) * Decimal(repr(threshold))


def test_exactly_at_a_threshold_fires_and_a_cent_below_does_not() -> None:
    assert _run([_state(Decimal("799.99"))], now=START) == [f"budget.warning:{CAMPAIGN}:0.5"]
    assert f"budget.warning:{CAMPAIGN}:0.8" in _run([_state(800)], now=START)


def test_zero_budget_fires_no_warning() -> None:
    assert _run([_state(50, budget=0)]) == []


@given(st.lists(st.integers(0, 2000), min_size=1, max_size=20))
def test_goal_fires_once_when_reached(streams: list[int]) -> None:
    states = [_state(totals={"streams": s}, goals={"streams": 1000, "clicks": 5}) for s in streams]
    fired = _run(states)
    assert fired == ([f"goal.reached:{CAMPAIGN}:streams:1000"] if max(streams) >= 1000 else [])


def test_a_raised_target_is_a_new_goal() -> None:
    fired = _run([_state(totals={"clicks": 10}, goals={"clicks": 5}),
                  _state(totals={"clicks": 20}, goals={"clicks": 15})])
    assert fired == [f"goal.reached:{CAMPAIGN}:clicks:5", f"goal.reached:{CAMPAIGN}:clicks:15"]


@given(st.lists(st.integers(0, 600), min_size=1, max_size=40))
def test_metrics_updated_is_coalesced_per_minute(offsets: list[int]) -> None:
    """Changes at any seconds: at most one per minute bucket, and one in every bucket that saw a change."""
    fired: list[str] = []
    for offset in sorted(offsets):
        now = NOW + timedelta(seconds=offset)
        fired += [f.dedupe_key for f in evaluate(_state(changed=True), now, CONFIG, frozenset(fired))
                  if f.type == "metrics.updated"]
    buckets = {int((NOW + timedelta(seconds=o)).timestamp() // 60) for o in offsets}
    assert sorted(fired) == sorted(f"metrics.updated:{CAMPAIGN}:{b}" for b in buckets)


def test_metrics_updated_needs_a_change() -> None:
    assert [f.type for f in evaluate(_state(changed=False), NOW, CONFIG)] == []


def test_completed_fires_once_after_the_end() -> None:
    assert _run([_state()], now=END - timedelta(seconds=1)) == []
    assert _run([_state(), _state()], now=END) == [f"campaign.completed:{CAMPAIGN}"]


@given(st.sampled_from(["draft", "active", "paused"]))
def test_only_a_launched_campaign_completes(status: str) -> None:
    """A draft past its end date was never run: it stays a draft, so nothing says it completed."""
    fired = _run([_state(status=status)], now=END + timedelta(days=1))
    assert fired == ([] if status == "draft" else [f"campaign.completed:{CAMPAIGN}"])


def test_pacing_projects_linearly_with_a_tolerance() -> None:
    # Half-way through, 550 of 1000 spent: 1100 projected, exactly +10 %: no alert; 560 -> 1120: alert.
    assert [f.type for f in evaluate(_state(Decimal(550)), NOW, CONFIG)] == ["budget.warning"]
    firings = evaluate(_state(Decimal(560)), NOW, CONFIG)
    assert [f.type for f in firings] == ["budget.warning", "budget.pacing"]
    assert firings[1].dedupe_key == f"budget.pacing:{CAMPAIGN}:{NOW.date().isoformat()}"
    assert firings[1].data["projectedSpend"] == 1120.0


def test_pacing_is_once_a_day_and_quiet_outside_the_campaign() -> None:
    heavy = _state(Decimal(900))
    assert _run([heavy, heavy]).count(f"budget.pacing:{CAMPAIGN}:{NOW.date().isoformat()}") == 1
    assert projected_spend(heavy, START - timedelta(days=1)) is None
    assert projected_spend(heavy, END) is None
    # The first hours count as a whole day: 10 spent after an hour projects 300, not 7,200.
    assert projected_spend(_state(10), START + timedelta(hours=1)) == Decimal(300)


@given(_cents, st.integers(1, 29 * 24))
def test_projection_is_never_below_spend(spent: Decimal, hours: int) -> None:
    projected = projected_spend(_state(spent), START + timedelta(hours=hours))
    assert projected is not None and projected >= spent


@given(_states(), _moments)
def test_what_fired_never_fires_again(state: CampaignState, now: datetime) -> None:
    """Keys are unique per evaluation, each names its type and campaign, and once passed back as fired the
    same evaluation fires nothing: the store's dedupe is all the hysteresis the rules need."""
    keys = [firing.dedupe_key for firing in evaluate(state, now, CONFIG)]
    assert len(keys) == len(set(keys))
    assert all(key.startswith(f"{key.split(':')[0]}:{CAMPAIGN}") for key in keys)
    assert evaluate(state, now, CONFIG, frozenset(keys)) == []


@given(_states(), _cents, _moments)
def test_budget_alerts_are_monotone_in_spend(state: CampaignState, more: Decimal, now: datetime) -> None:
    """Spending more never silences a budget alert that less spend fired (at the same moment)."""
    def budget_keys(spent: Decimal) -> set[str]:
        firings = evaluate(msgspec.structs.replace(state, budget_spent=spent), now, CONFIG)
        return {firing.dedupe_key for firing in firings if firing.type.startswith("budget.")}

    assert budget_keys(state.budget_spent) <= budget_keys(state.budget_spent + more)


@given(_cents, _cents, st.integers(1, 29 * 24))
def test_projection_grows_with_spend(spent: Decimal, more: Decimal, hours: int) -> None:
    now = START + timedelta(hours=hours)
    lower, higher = projected_spend(_state(spent), now), projected_spend(_state(spent + more), now)
    assert lower is not None and higher is not None and lower <= higher
