"""The attribution model, pure: incremental streams against a baseline of the days before a campaign.

    incremental streams = streams during the campaign - baseline daily mean * campaign days

The baseline is the ``days`` UTC days before the campaign's first day. A baseline day is observed once
the track has any stream data (its first report day or event); earlier days are unknown, not zero, so
they are left out of the mean. An observed day with no data counts 0 (events arrive only when someone
listens). A campaign day still in progress counts as the fraction of it that has passed.

Confidence: "none" without any observed baseline day (no incremental figure); "low" with fewer than
``min_days`` observed days or a coefficient of variation (stddev / mean) above ``max_noise``; else
"high". docs/analytics.md says the same in prose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from engine.analytics.model import Attribution, Baseline, Confidence, ListenerMatches

__all__ = ["BaselineRule", "attribute", "baseline_of"]


class BaselineRule:
    """The settings of the model: ``[analytics]`` baseline_days, min_baseline_days, max_baseline_noise."""

    __slots__ = ("days", "max_noise", "min_days")

    def __init__(self, *, days: int, min_days: int, max_noise: float) -> None:
        if not 1 <= min_days <= days:
            raise ValueError("need 1 <= min_days <= days")
        self.days, self.min_days, self.max_noise = days, min_days, max_noise


def baseline_of(first_day: date, streams: Mapping[date, int], first_data_day: date | None,
                rule: BaselineRule) -> Baseline:
    """The baseline of a campaign whose first UTC day is ``first_day``, from the track's streams per day."""
    start, end = first_day - timedelta(days=rule.days), first_day - timedelta(days=1)
    observed_from = start if first_data_day is None else max(start, first_data_day)
    values = [] if first_data_day is None or first_data_day > end else [
        streams.get(observed_from + timedelta(days=i), 0) for i in range((end - observed_from).days + 1)]
    mean = sum(values) / len(values) if values else None
    stddev = None
    if mean is not None:
        stddev = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return Baseline(start=start, end=end, days=rule.days, observed_days=len(values), streams=sum(values),
                    daily_mean=mean, daily_stddev=stddev)


def _confidence(baseline: Baseline, rule: BaselineRule, has_track: bool) -> tuple[Confidence, list[str]]:
    if not has_track:
        return "none", ["the campaign has no track, so it has no streams"]
    if baseline.observed_days == 0:
        return "none", [f"no stream data in the {baseline.days} days before the campaign"]
    reasons: list[str] = []
    if baseline.observed_days < rule.min_days:
        reasons.append(f"the baseline has {baseline.observed_days} observed days, fewer than the minimum of "
                       f"{rule.min_days}")
    mean, stddev = baseline.daily_mean or 0.0, baseline.daily_stddev or 0.0
    if mean > 0 and stddev / mean > rule.max_noise:
        reasons.append(f"the baseline is too noisy: its standard deviation is {stddev / mean:.2f} times its "
                       f"mean (limit {rule.max_noise:g})")
    return ("low" if reasons else "high"), reasons


def attribute(*, campaign_start: date, campaign_end: date, elapsed_days: float, streams_during: int,
              baseline: Baseline, listeners: ListenerMatches, rule: BaselineRule, has_track: bool,
              stream_value: Decimal | None) -> Attribution:
    """The attribution of a campaign whose UTC days ``campaign_start``..``campaign_end`` (within the
    period asked for) had ``streams_during`` streams over ``elapsed_days`` days (fractional for a day in
    progress)."""
    confidence, reasons = _confidence(baseline, rule, has_track)
    expected = None if confidence == "none" or baseline.daily_mean is None else baseline.daily_mean * elapsed_days
    incremental = None if expected is None else round(streams_during - expected)
    days = max(0, (campaign_end - campaign_start).days + 1)
    return Attribution(campaign_start=campaign_start, campaign_end=campaign_end, campaign_days=days,
                       elapsed_days=elapsed_days, streams_during=streams_during, baseline=baseline,
                       expected_streams=expected, incremental_streams=incremental, confidence=confidence,
                       reasons=reasons, listeners=listeners, stream_value=stream_value)
