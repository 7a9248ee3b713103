"""Properties of the Meta simulator's pure core: the breakdown split and the BUC quota model.

Rules: hypothesis drives the pure functions directly (they are the model, not the behaviour under HTTP
test); every HTTP-visible behaviour is tested in the other ``test_simulator_*`` files.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.meta.simulator import DayMetrics, SimulatorConfig
from adapters.meta.simulator.insights import format_spend
from adapters.meta.simulator.metrics import split
from adapters.meta.simulator.quota import QuotaModel

DIMENSIONS = st.lists(st.sampled_from(["age", "gender", "country"]), unique=True, max_size=3)
COUNTS = st.integers(min_value=0, max_value=10**9)


@given(seed=st.integers(0, 2**32), dims=DIMENSIONS, spend=COUNTS, impressions=COUNTS, clicks=COUNTS)
def test_breakdown_split_sums_back_exactly(
    seed: int, dims: list[str], spend: int, impressions: int, clicks: int
) -> None:
    parts = split(seed, "120000000000001", DayMetrics(spend, impressions, clicks), dims)
    assert sum(p.spend_minor for p in parts.values()) == spend
    assert sum(p.impressions for p in parts.values()) == impressions
    assert sum(p.clicks for p in parts.values()) == clicks
    assert all(p.spend_minor >= 0 for p in parts.values())


@settings(max_examples=30)
@given(gaps=st.lists(st.floats(min_value=5.0, max_value=600.0), min_size=1, max_size=900))
def test_never_more_allowed_insights_calls_in_an_hour_than_the_quota(gaps: list[float]) -> None:
    model, now, allowed = QuotaModel(SimulatorConfig()), 0.0, []
    for gap in gaps:  # gaps of 5 s or more keep the score limiter out of the way
        now += gap
        if model.charge("1", "ads_insights", write=False, now=now) is None:
            allowed.append(now)
    for i, start in enumerate(allowed):
        assert sum(1 for t in allowed[i:] if t < start + 3600) <= 600


@given(minor=COUNTS, offset=st.sampled_from([1, 100]))
def test_spend_strings_round_trip_to_minor_units(minor: int, offset: int) -> None:
    text = format_spend(minor, offset)
    assert Decimal(text) * offset == minor
    assert not text.endswith((".", ".0")) and not ("." in text and text.endswith("0"))  # "5339.5", never "5339.50"
    assert offset == 100 or "." not in text
