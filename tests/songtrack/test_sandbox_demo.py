"""``songtrack.sandbox_demo.set_up_demo`` against the Meta simulator (in-process, through
``httpx.ASGITransport``) and a real PostgreSQL, on the real clock: the demo track it links each fresh
demo campaign to, the Spotify for Artists history it imports, what it prints, and the lift the demo
campaign's analytics show once ``SandboxStreams`` has stored the day's listens.

Rules: the demo's "now" is a fixed moment of ours (never today: a test must not depend on the hour it
runs at), and the listens come at a low rate so the day's backfill stays small.
"""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from actors.sandbox_streams import SandboxStreams
from adapters.meta.simulator import MetaSimulator, SimClock, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from config import Keys, load
from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.store import Database, accounts, campaigns, rules, tracks
from songtrack.sandbox_demo import DEMO_RULE, HISTORY_DAYS, HISTORY_SHARE, DemoLabel, history_csv, set_up_demo

DAY = date(2026, 3, 10)
NOW = datetime.combine(DAY, time(2), UTC)  # two hours into the campaign's first day
RATE = 0.5  # listens a second: about 3,600 by NOW


def _http_factory() -> Callable[[], httpx.AsyncClient]:
    config = SimulatorConfig(seed=1)
    sim = MetaSimulator(config, SimClock(parse_start(config.start), 60.0, trio.current_time))
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com")


async def _set_up(db: Database, tmp_path: Path, rate: float = RATE, now: datetime = NOW,
                  speed: float = 1.0, tier: str = "enterprise") -> DemoLabel:
    settings = load({"SONGTRACK_SIMULATORS_STREAM_RATE": str(rate), "SONGTRACK_API_DEFAULT_TIER": tier})
    keys = Keys(jwt_signing_key=os.urandom(32), token_encryption_key=os.urandom(32))
    with trio.fail_after(30):
        return await set_up_demo(db, settings, keys, tmp_path, _http_factory(), now=now, speed=speed)


async def _report_days(db: Database, track: uuid.UUID) -> dict[date, int]:
    rows = await db.fetch("SELECT day, streams FROM track_report_days WHERE track_id = $1 ORDER BY day", track)
    return {row["day"]: row["streams"] for row in rows}


async def test_each_start_links_a_fresh_demo_campaign_to_the_same_demo_track(db: Database, tmp_path: Path) -> None:
    first = await _set_up(db, tmp_path, rate=2)
    second = await _set_up(db, tmp_path, rate=2)
    assert (second.organization_id, second.track_id) == (first.organization_id, first.track_id)
    org = first.organization_id
    assert [t.id for t in (await tracks.list_tracks(db, org)).items] == [first.track_id]
    demo = (await campaigns.list_campaigns(db, org, sort="createdAt", order="asc")).items
    assert [(c.status, c.track_id) for c in demo] == [("archived", first.track_id), ("active", first.track_id)]
    assert demo[-1].start_date == datetime.combine(DAY, time(), UTC) == demo[-1].end_date - timedelta(days=30)
    printed = "\n".join(second.lines)
    assert f"Demo track: {first.track_id}" in printed and "2 listens a second, 172,800 a simulated day" in printed
    assert "Demo history: 28 days of Spotify for Artists streams before the campaign (imported)" in "\n".join(
        first.lines)
    assert "(imported before)" in printed  # the same day, the same file
    # One demo rule, made at the first start only, a dry run of docs/rules.md's first example.
    [rule] = (await rules.list_rules(db, org)).items
    assert (rule.name, rule.dry_run, rule.status) == (DEMO_RULE["name"], True, "active")
    assert rule.spec.conditions[0].field == "costPerIncrementalStream"


@pytest.mark.parametrize("tier", ["free", "starter"])
async def test_the_demo_label_starts_on_the_configured_default_tier(db: Database, tmp_path: Path, tier: str) -> None:
    # Its hourly request budget is the one any organization made on this server gets, as [api] default_tier
    # says; and a later start keeps it.
    for _ in range(2):
        demo = await _set_up(db, tmp_path, rate=0, tier=tier)
        org = await accounts.get_organization(db, demo.organization_id)
        assert org is not None and org.tier == tier


async def test_the_demo_track_has_28_days_of_history_around_60_percent_of_the_listens(
        db: Database, tmp_path: Path) -> None:
    demo = await _set_up(db, tmp_path)
    days = await _report_days(db, demo.track_id)
    assert list(days) == [DAY - timedelta(days=n) for n in range(HISTORY_DAYS, 0, -1)]
    mean = HISTORY_SHARE * RATE * 86_400  # 25,920
    assert abs(statistics.mean(days.values()) - mean) < 0.05 * mean  # 5 standard errors and more
    assert statistics.stdev(days.values()) < 0.1 * mean
    # The next day's history is the same days shifted: a day's figure depends on the day only.
    shifted = history_csv(1, RATE, DAY + timedelta(days=1)).decode("utf-8-sig").splitlines()
    assert shifted[1:-1] == history_csv(1, RATE, DAY).decode("utf-8-sig").splitlines()[2:]


async def test_a_rate_of_zero_imports_no_history(db: Database, tmp_path: Path) -> None:
    demo = await _set_up(db, tmp_path, rate=0)
    assert await _report_days(db, demo.track_id) == {}
    assert not any(line.startswith("Demo history") for line in demo.lines)


async def test_a_faster_clock_spreads_the_listens_and_the_history_thinner(db: Database, tmp_path: Path) -> None:
    demo = await _set_up(db, tmp_path, rate=60, speed=120)  # 60 listens a real second: 43,200 a simulated day
    assert demo.listen_rate == 0.5
    assert "60 listens a second, 43,200 a simulated day" in "\n".join(demo.lines)
    mean = HISTORY_SHARE * 43_200
    assert abs(statistics.mean((await _report_days(db, demo.track_id)).values()) - mean) < 0.05 * mean


@pytest.mark.parametrize(("rate", "speed"), [(RATE, 1.0), (RATE * 600, 600.0)])
async def test_the_demo_campaign_shows_a_lift_of_about_40_percent_with_high_confidence(
        db: Database, tmp_path: Path, rate: float, speed: float) -> None:
    demo = await _set_up(db, tmp_path, rate=rate, speed=speed)
    org = demo.organization_id
    with trio.fail_after(30), trio.move_on_after(1.5):  # the wall clock stands still at NOW
        await SandboxStreams(db, org, rate=demo.listen_rate, seed=1, wall=lambda: NOW).run()
    campaign = (await campaigns.list_campaigns(db, org, status="active")).items[0]
    found = await campaign_analytics(db, org, campaign.id, start=None, end=None, granularity="day",
                                     rules=AnalyticsRules(), now=NOW)
    assert found is not None
    attribution = found.attribution
    during = await db.fetchval("SELECT count(*) FROM stream_events WHERE track_id = $1", demo.track_id)
    history = list((await _report_days(db, demo.track_id)).values())
    baseline_mean = sum(history) / len(history)  # as the model computes it, to the last bit
    elapsed = 2 / 24
    assert attribution.confidence == "high" and attribution.streams_during == during > 3000
    assert attribution.elapsed_days == elapsed and attribution.baseline.observed_days == HISTORY_DAYS
    assert attribution.incremental_streams == round(during - baseline_mean * elapsed)
    assert 0.3 * during < attribution.incremental_streams < 0.5 * during  # about 0.4
