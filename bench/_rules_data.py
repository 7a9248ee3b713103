"""The rules benchmark's data: generated campaigns (ad days, their track's stream days), the 10 rules a label
would plausibly run, and the pure half of the benchmark (``decide`` against the aggregator's alert rules on
the same campaigns). The database half is in _rules_db.py.

Every campaign started 30 days before ``now`` and runs 60 days, on a budget of 3,000 USD spending 30 to 60
USD a day (about 45 % of it spent, pacing near 90 %); CPM 7 to 13 USD, CTR 0.8 to 2 %. 99 in 100 have a
track of their own with 61 days of streams (the 28-day baseline before the campaign included) that the ads
lift. A few in every thousand are outliers that some rule fires on: a spend spike today (pacing and spike
rules), streams that collapse (the any-rule), impressions that get dear (CPM), streams that stop while the
spend goes on (cost per stream). The rest fire nothing, as in a normal day of a label's rules.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.sections import AlertsSettings, AnalyticsSettings
from engine import alert_rules
from engine.analytics.attribution import BaselineRule
from engine.rules.actions import CampaignState
from engine.rules.decide import Limits, decide
from engine.rules.figures import AdDay, CampaignHistory
from engine.rules.model import RuleSpec, parse_spec

__all__ = [
    "ALERTS",
    "ALERT_RULES",
    "GOAL",
    "RULE_JSON",
    "Campaign",
    "Timed",
    "campaigns",
    "pure_alerts",
    "pure_rules",
    "rule_specs",
]

ALERTS = AlertsSettings(budget_thresholds="0.25, 0.5, 0.8, 1.0")
# What one alert_rules.evaluate checks with ALERTS and three goals: 4 thresholds, pacing, 3 goals, completed,
# metrics.updated (bench/pipeline.py counts them the same way).
ALERT_RULES = 10
GOAL = 1_000_000  # each campaign's streams, clicks and impressions goal: not reached in the run
BUDGET_MINOR = 300_000
START_DAYS_AGO, DAYS = 30, 60
BASELINE_DAYS = 31  # stream days before the campaign: more than the 28 of the baseline

# The API's JSON (docs/rules.md), in their order of creation: every field family, windows from 24 h to a week,
# every ordered operator, a figure against a figure, an any and an all, every action type.
RULE_JSON: list[dict[str, Any]] = [
    {"condition": {"field": "spend", "operator": "greater_than", "value": "1000", "durationHours": 24},
     "action": {"type": "pause_campaign"}},
    {"condition": {"field": "ctr", "operator": "less_than", "value": "0.2", "durationHours": 72},
     "action": {"type": "send_alert", "config": {"message": "CTR under 0.2 %"}}},
    {"condition": {"field": "cpm", "operator": "greater_than", "value": "40", "durationHours": 48},
     "action": {"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": "-20"}}},
    {"condition": {"field": "pacing", "operator": "gte", "value": "150", "durationHours": 72},
     "action": {"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": "-10", "floor": "500"}}},
    {"condition": {"field": "budgetUsed", "operator": "gte", "value": "95"}, "action": {"type": "pause_campaign"}},
    {"conditions": [{"field": "streams", "operator": "less_than", "value": "50", "durationHours": 24},
                    {"field": "incrementalStreams", "operator": "lte", "value": "-1000", "durationHours": 72}],
     "match": "any", "action": {"type": "webhook"}},
    {"condition": {"field": "costPerStream", "operator": "greater_than", "value": "1", "durationHours": 168},
     "action": {"type": "pause_campaign"}},
    {"condition": {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "2",
                   "durationHours": 48}, "action": {"type": "pause_campaign"}},
    {"condition": {"field": "spend", "operator": "gte", "durationHours": 24,
                   "value": {"field": "dailySpend", "multiplier": "3", "durationHours": 168}},
     "action": {"type": "send_alert"}},
    {"conditions": [{"field": "pacing", "operator": "less_than", "value": "90", "durationHours": 72},
                    {"field": "budgetUsed", "operator": "lte", "value": "90"}],
     "match": "all", "action": {"type": "resume_campaign"}},
]


@dataclass(frozen=True)
class Campaign:
    """One generated campaign: its ids and the history the rules read (``stream_days`` is its track's)."""

    id: uuid.UUID
    track_id: uuid.UUID | None
    start: datetime
    end: datetime
    ad_days: dict[date, AdDay]
    stream_days: dict[date, int]


@dataclass(frozen=True)
class Timed:
    count: int
    seconds: float
    fired: int = 0

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def rule_specs(count: int) -> list[RuleSpec]:
    """``count`` rules: RULE_JSON's, cycled when more are asked for."""
    return [parse_spec(RULE_JSON[n % len(RULE_JSON)]) for n in range(count)]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _ad_days(kind: int, start: date, today: date, rng: random.Random) -> dict[date, AdDay]:
    daily = 7_000 if kind == 4 else rng.randint(3_000, 6_000)
    out = {}
    for day in _days(start, today):
        spend = 40_000 if kind == 1 and day == today else int(daily * rng.uniform(0.8, 1.2))
        dear = kind == 3 and day >= today - timedelta(days=1)
        impressions = spend // 10 if dear else int(spend * rng.uniform(0.8, 1.5))  # CPM 100 USD when dear
        out[day] = AdDay(spend_minor=spend, impressions=impressions,
                         clicks=int(impressions * rng.uniform(0.008, 0.02)))
    return out


def _stream_days(kind: int, start: date, today: date, ads: dict[date, AdDay], rng: random.Random) -> dict[date, int]:
    base = rng.randint(200, 2_000)
    out = {}
    for day in _days(start - timedelta(days=BASELINE_DAYS), today):
        lift = ads[day].spend_minor / 100 * rng.uniform(5, 15) if day in ads else 0.0
        if (kind == 2 and day >= today - timedelta(days=2)) or (kind == 4 and day > today - timedelta(days=7)):
            out[day] = 5  # the streams collapsed
        else:
            out[day] = int(base * rng.uniform(0.8, 1.2) + lift)
    return out


def campaigns(count: int, now: datetime) -> list[Campaign]:
    """``count`` campaigns as of ``now`` (deterministic but for the ids)."""
    rng = random.Random(15)
    start = now - timedelta(days=START_DAYS_AGO)
    out = []
    for n in range(count):
        kind, tracked = n % 1000, n % 100 != 99
        ads = _ad_days(kind, start.date(), now.date(), rng)
        streams = _stream_days(kind, start.date(), now.date(), ads, rng) if tracked else {}
        out.append(Campaign(id=uuid.uuid4(), track_id=uuid.uuid4() if tracked else None, start=start,
                            end=start + timedelta(days=DAYS), ad_days=ads, stream_days=streams))
    return out


def _history(org: uuid.UUID, campaign: Campaign) -> CampaignHistory:
    return CampaignHistory(
        campaign_id=campaign.id, organization_id=org, name=f"Bench {campaign.id}", status="active", currency="USD",
        budget=Decimal(BUDGET_MINOR) / 100, start_date=campaign.start, end_date=campaign.end,
        track_id=campaign.track_id, ad_days=campaign.ad_days, stream_days=campaign.stream_days,
        first_stream_day=min(campaign.stream_days, default=None))  # fmt: skip


def pure_rules(rules: list[RuleSpec], items: list[Campaign], now: datetime) -> Timed:
    """Every rule's ``decide`` on every campaign (as the evaluator calls it: no cooldown yet); the inputs are
    built before the clock starts."""
    org, analytics = uuid.uuid4(), AnalyticsSettings()
    limits = Limits(baseline=BaselineRule(days=analytics.baseline_days, min_days=analytics.min_baseline_days,
                                          max_noise=analytics.max_baseline_noise))
    state = CampaignState(status="active", budget=Decimal(BUDGET_MINOR) / 100, currency="USD")
    histories = [_history(org, campaign) for campaign in items]
    fired, started = 0, time.perf_counter()
    for history in histories:
        for spec in rules:
            fired += decide(spec, history, state, now, last_fired=None, limits=limits).plan is not None
    return Timed(len(rules) * len(histories), time.perf_counter() - started, fired)


def _alert_state(campaign: Campaign) -> alert_rules.CampaignState:
    ads = campaign.ad_days.values()
    streams = sum(v for day, v in campaign.stream_days.items() if day >= campaign.start.date())
    return alert_rules.CampaignState(
        campaign_id=campaign.id, name=f"Bench {campaign.id}", currency="USD", budget=Decimal(BUDGET_MINOR) / 100,
        budget_spent=Decimal(sum(d.spend_minor for d in ads)) / 100, start_date=campaign.start,
        end_date=campaign.end, totals={"impressions": sum(d.impressions for d in ads),
                                       "clicks": sum(d.clicks for d in ads), "streams": streams},
        goals=dict.fromkeys(("streams", "clicks", "impressions"), GOAL))  # fmt: skip


def pure_alerts(items: list[Campaign], now: datetime) -> Timed:
    """``alert_rules.evaluate`` on every campaign, as each aggregator batch calls it; states built untimed."""
    states = [_alert_state(campaign) for campaign in items]
    fired, started = 0, time.perf_counter()
    for state in states:
        fired += len(alert_rules.evaluate(state, now, ALERTS))
    return Timed(len(states), time.perf_counter() - started, fired)
