"""The attribution model: the baseline's observed days, mean and deviation; incremental streams and
the confidence flag, over generated histories."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.analytics.attribution import BaselineRule, attribute, baseline_of
from engine.analytics.model import ListenerMatches

FIRST = date(2027, 3, 1)  # the campaign's first UTC day
NO_FANS = ListenerMatches(listeners_opted_in=0, listeners_matched=0, plays=0)


@given(days=st.integers(1, 60), history=st.lists(st.integers(0, 10**6), max_size=90),
       first_data_back=st.one_of(st.none(), st.integers(1, 120)))
def test_the_baseline_counts_observed_days_only_and_missing_observed_days_as_zero(
        days: int, history: list[int], first_data_back: int | None) -> None:
    rule = BaselineRule(days=days, min_days=1, max_noise=1.0)
    # history[i] is the streams of the day i+1 days before the campaign; zeros are left out as "no row".
    streams = {FIRST - timedelta(days=i + 1): v for i, v in enumerate(history) if v}
    first_data = None if first_data_back is None else FIRST - timedelta(days=first_data_back)
    baseline = baseline_of(FIRST, streams, first_data, rule)
    observed = 0 if first_data_back is None else min(days, first_data_back)
    values = [history[i] if i < len(history) else 0 for i in range(observed)]
    assert (baseline.start, baseline.end) == (FIRST - timedelta(days=days), FIRST - timedelta(days=1))
    assert baseline.observed_days == observed
    assert baseline.streams == sum(values)
    if observed:
        assert baseline.daily_mean == pytest.approx(statistics.fmean(values))
        assert baseline.daily_stddev == pytest.approx(statistics.stdev(values) if observed > 1 else 0.0)
    else:
        assert baseline.daily_mean is None


@given(mean=st.integers(0, 10_000), during=st.integers(0, 10**7), elapsed=st.floats(0, 400),
       observed=st.integers(1, 28))
def test_incremental_streams_are_during_less_the_baseline_mean_times_the_elapsed_days(
        mean: int, during: int, elapsed: float, observed: int) -> None:
    rule = BaselineRule(days=28, min_days=7, max_noise=1.0)
    streams = {FIRST - timedelta(days=i + 1): mean for i in range(observed)}
    baseline = baseline_of(FIRST, streams, FIRST - timedelta(days=observed), rule)
    result = attribute(campaign_start=FIRST, campaign_end=FIRST + timedelta(days=29), elapsed_days=elapsed,
                       streams_during=during, baseline=baseline, listeners=NO_FANS, rule=rule, has_track=True,
                       stream_value=None)
    assert result.expected_streams == pytest.approx(mean * elapsed)
    assert result.incremental_streams == round(during - mean * elapsed)
    assert result.confidence == ("high" if observed >= 7 else "low")
    assert result.campaign_days == 30


def test_a_noisy_baseline_is_low_confidence_and_says_why() -> None:
    rule = BaselineRule(days=10, min_days=7, max_noise=0.5)
    streams = {FIRST - timedelta(days=i + 1): (0 if i % 2 else 200) for i in range(10)}
    baseline = baseline_of(FIRST, streams, FIRST - timedelta(days=30), rule)
    result = attribute(campaign_start=FIRST, campaign_end=FIRST, elapsed_days=1.0, streams_during=150,
                       baseline=baseline, listeners=NO_FANS, rule=rule, has_track=True, stream_value=None)
    assert result.confidence == "low"
    assert result.reasons == ["the baseline is too noisy: its standard deviation is 1.05 times its mean (limit 0.5)"]
    assert result.incremental_streams == 50


def test_no_observed_baseline_day_gives_no_incremental_figure() -> None:
    rule = BaselineRule(days=28, min_days=7, max_noise=1.0)
    baseline = baseline_of(FIRST, {FIRST: 10}, FIRST, rule)  # the track's first stream was on day one
    result = attribute(campaign_start=FIRST, campaign_end=FIRST, elapsed_days=1.0, streams_during=10,
                       baseline=baseline, listeners=NO_FANS, rule=rule, has_track=True, stream_value=None)
    assert (result.confidence, result.expected_streams, result.incremental_streams) == ("none", None, None)
    assert result.reasons == ["no stream data in the 28 days before the campaign"]
