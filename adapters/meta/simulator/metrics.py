"""The simulated delivery numbers: what one campaign spent, showed and got clicked on one local day.

Pure and deterministic: every number is a function of (seed, campaign, day, spend, restatement version),
so the world and the insights endpoint can never disagree. What a day spends is ``delivery``'s business;
this module turns that spend into impressions and clicks. It knows nothing of HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BREAKDOWN_VALUES",
    "DayDraws",
    "DayMetrics",
    "day_draws",
    "from_spend",
    "restatement_factor",
    "split",
    "unit_float",
]

BREAKDOWN_VALUES: dict[str, tuple[str, ...]] = {
    "age": ("18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "gender": ("female", "male", "unknown"),
    "country": ("US", "GB", "DE", "JP", "KR", "BR"),
}


@dataclass(frozen=True, slots=True)
class DayMetrics:
    """Spend in the currency's minor unit; the actions derive from clicks and impressions."""

    spend_minor: int
    impressions: int
    clicks: int

    @property
    def actions(self) -> dict[str, int]:
        return {
            "link_click": self.clicks,
            "landing_page_view": self.clicks * 7 // 10,
            "video_view": self.impressions // 10,
        }

    def scaled(self, factor: float) -> DayMetrics:
        return DayMetrics(
            math.floor(self.spend_minor * factor),
            math.floor(self.impressions * factor),
            math.floor(self.clicks * factor),
        )


def unit_float(*parts: object) -> float:
    """A uniform float in [0, 1) from the parts, stable across processes (no PYTHONHASHSEED)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class DayDraws:
    """The seeded draws of one (campaign, day): the share of the budget it paces to, its CTR and CPM factor."""

    pacing: float  # 0.6 to 0.98: below 1, so a day never spends its whole daily budget at a steady budget
    ctr: float
    cpm_factor: float


def day_draws(seed: int, campaign_id: str, day: str) -> DayDraws:
    return DayDraws(
        0.6 + 0.38 * unit_float(seed, "pace", campaign_id, day),
        0.005 + 0.025 * unit_float(seed, "ctr", campaign_id, day),
        0.8 + 0.4 * unit_float(seed, "cpm", campaign_id, day),
    )


def from_spend(spend_minor: int, cpm_minor: float, draws: DayDraws) -> DayMetrics:
    """The day's impressions and clicks follow from what it spent, at the day's CPM and CTR."""
    cpm = cpm_minor * draws.cpm_factor
    impressions = math.floor(spend_minor * 1000 / cpm) if cpm > 0 else 0
    return DayMetrics(spend_minor, impressions, math.floor(impressions * draws.ctr))


def restatement_factor(seed: int, campaign_id: str, day_index: int, today_index: int, rate: float) -> float:
    """The correction applied to a past day by the latest restatement up to ``today_index``.

    A day may be restated on each of the 28 days after it (Meta: numbers stop changing at 28 days);
    each restatement replaces the previous factor, so numbers move, then settle.
    """
    if rate <= 0.0 or today_index <= day_index:
        return 1.0
    for version in range(min(today_index, day_index + 28), day_index, -1):
        if unit_float(seed, "restate?", campaign_id, day_index, version) < rate:
            return 0.95 + 0.1 * unit_float(seed, "restate", campaign_id, day_index, version)
    return 1.0


def _weights(seed: int, campaign_id: str, dimension: str) -> list[float]:
    return [0.2 + unit_float(seed, "w", campaign_id, dimension, v) for v in BREAKDOWN_VALUES[dimension]]


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    parts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def split(seed: int, campaign_id: str, day: DayMetrics, dimensions: Sequence[str]) -> dict[tuple[str, ...], DayMetrics]:
    """The day's totals split over the breakdown buckets; each metric sums back exactly to the total."""
    if not dimensions:
        return {(): day}
    keys = list(itertools.product(*(BREAKDOWN_VALUES[d] for d in dimensions)))
    per_dim = [dict(zip(BREAKDOWN_VALUES[d], _weights(seed, campaign_id, d), strict=True)) for d in dimensions]
    weights = [math.prod(per_dim[i][value] for i, value in enumerate(key)) for key in keys]
    spend = _largest_remainder(day.spend_minor, weights)
    impressions = _largest_remainder(day.impressions, weights)
    clicks = _largest_remainder(day.clicks, weights)
    return {key: DayMetrics(spend[i], impressions[i], clicks[i]) for i, key in enumerate(keys)}
