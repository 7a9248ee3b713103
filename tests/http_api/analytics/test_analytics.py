"""`/v1/analytics`: a campaign's summary, attribution and series, the overview and a track's analytics,
computed from facts and stream days stored the way the engine and imports store them.

The world: the API's clock is 2027-01-15 08:00 UTC (``EPOCH``: every test runs on ``mock_clock``), a
third of the day gone. The campaign's track had 90 and 110 streams on alternate days for the 28 days
before the campaign (a mean of 100), then 150 a day from 2027-01-05 and 60 so far today; Meta reported
$10.00, 1,000 impressions and 20 clicks a day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
import trio
from trio.testing import MockClock

from config import Settings
from config.sections import AnalyticsSettings
from engine.messages import MetricSample
from engine.store import campaign_meta, facts, imports
from engine.store.database import Database
from tests.helpers.factories import create_track
from tests.http_api.conftest import EPOCH, Client, MakeMember, Member
from tests.http_api.post import post_created

TODAY = datetime.fromtimestamp(EPOCH, UTC).date()  # 2027-01-15
START = date(2027, 1, 5)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The package's settings, with a stream worth $0.004 (for ROI)."""
    return msgspec.structs.replace(settings, analytics=AnalyticsSettings(stream_values="USD:0.004"))


async def _campaign(client: Client, member: Member, track_id: uuid.UUID | None, **fields: object) -> str:
    body = {"name": "Winter Single", "budget": 500, "currency": "USD", "objective": "streams",
            "startDate": "2027-01-05T00:00:00Z", "endDate": "2027-01-20T23:59:59Z",
            **({"trackId": str(track_id)} if track_id else {}), **fields}
    return str((await post_created(client, member.headers, "/v1/campaigns", body))["id"])


def track_days(track: uuid.UUID) -> list[imports.TrackDay]:
    """The track's stream days: 90 and 110 on alternate days for the 28 days before START, 150 a day for 10
    days from START, 60 so far TODAY."""
    days = [imports.TrackDay(track_id=track, day=START - timedelta(days=n), streams=90 if n % 2 else 110)
            for n in range(1, 29)]
    days += [imports.TrackDay(track_id=track, day=START + timedelta(days=n), streams=150) for n in range(10)]
    return [*days, imports.TrackDay(track_id=track, day=TODAY, streams=60)]


async def _world(db: Database, client: Client, member: Member) -> tuple[uuid.UUID, str]:
    track = await create_track(db, member.org_id, title="Frost", artist="Ana")
    campaign = await _campaign(client, member, track)
    await imports.upsert_track_days(db, member.org_id, None, "s4a", track_days(track))
    observed = datetime.fromtimestamp(EPOCH, UTC)
    samples = [MetricSample(organization_id=member.org_id, campaign_id=uuid.UUID(campaign), day=START + timedelta(n),
                            metric=metric, value=value, source="meta:1", observed_at=observed, currency=currency)
               for n in range(10)
               for metric, value, currency in (("spend_minor", 1000, "USD"), ("impressions", 1000, None),
                                               ("clicks", 20, None))]
    await facts.upsert_samples(db, samples)
    return track, campaign


async def _get(client: Client, member: Member, path: str, status: int = 200) -> Any:
    response = await client.get(path, headers=member.headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


async def test_a_campaign_s_summary_attribution_and_series_come_from_its_facts_and_streams(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        body = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}")
    assert body["period"] == {"start": "2027-01-05", "end": "2027-01-15"}  # up to today while it runs
    assert body["timezones"] == {"ads": "UTC", "streams": "UTC"}  # no ad account read yet
    summary = body["summary"]
    assert (summary["totalSpend"], summary["totalImpressions"], summary["totalClicks"]) == (100, 10_000, 200)
    assert summary["totalStreams"] == 10 * 150 + 60
    assert (summary["avgCtr"], summary["avgCpc"], summary["avgCpm"]) == (2.0, 0.5, 10)
    assert summary["costPerStream"] == pytest.approx(100 / 1560, abs=1e-6)
    attribution = body["attribution"]
    assert attribution["baseline"] | {"dailyStddev": None} == {
        "start": "2026-12-08", "end": "2027-01-04", "days": 28, "observedDays": 28, "streams": 2800,
        "dailyMean": 100.0, "dailyStddev": None}
    assert attribution["elapsedDays"] == pytest.approx(10 + 1 / 3)
    assert attribution["expectedStreams"] == pytest.approx(100 * (10 + 1 / 3))
    assert attribution["incrementalStreams"] == round(1560 - 100 * (10 + 1 / 3)) == 527
    assert (attribution["confidence"], attribution["reasons"]) == ("high", [])
    assert summary["costPerIncrementalStream"] == pytest.approx(100 / 527, abs=1e-6)
    assert summary["roi"] == pytest.approx((527 * 0.004 - 100) / 100, abs=1e-6)
    daily = body["daily"]
    assert [p["date"] for p in daily][:2] == ["2027-01-05", "2027-01-06"] and len(daily) == 11
    assert daily[-1] == {"date": "2027-01-15", "spend": 0, "impressions": 0, "clicks": 0, "streams": 60}
    assert sum(p["spend"] for p in daily) == summary["totalSpend"]


async def test_weeks_start_on_monday_and_months_on_the_first_but_never_before_the_period(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        weeks = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}?granularity=week")
        months = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}?granularity=month"
                                           "&startDate=2026-12-30&endDate=2027-01-15")
    assert [(p["date"], p["spend"], p["streams"]) for p in weeks["daily"]] == [
        ("2027-01-05", 60, 900), ("2027-01-11", 40, 660)]  # Tuesday 5th to Sunday 10th, then Monday 11th on
    # Streams of the period's days before the campaign (the baseline's) are not the campaign's.
    assert [(p["date"], p["streams"]) for p in months["daily"]] == [("2026-12-30", 0), ("2027-01-01", 1560)]
    assert months["summary"]["totalStreams"] == months["attribution"]["streamsDuring"] == 1560


async def test_a_short_baseline_is_low_confidence_and_none_without_one(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        track = await create_track(db, owner.org_id, title="New", artist="Ana")
        short = await _campaign(client, owner, track)
        await imports.upsert_track_days(db, owner.org_id, None, "s4a", [
            imports.TrackDay(track_id=track, day=START - timedelta(days=n), streams=n) for n in (1, 2, 3)])
        low = (await _get(client, owner, f"/v1/analytics/campaigns/{short}"))["attribution"]
        trackless = await _campaign(client, owner, None)
        none = (await _get(client, owner, f"/v1/analytics/campaigns/{trackless}"))["attribution"]
    assert low["confidence"] == "low" and low["baseline"]["observedDays"] == 3
    assert low["reasons"] == ["the baseline has 3 observed days, fewer than the minimum of 7"]
    assert low["expectedStreams"] == pytest.approx(2.0 * (10 + 1 / 3))
    assert none["confidence"] == "none" and none["incrementalStreams"] is None
    assert none["reasons"] == ["the campaign has no track, so it has no streams"]


async def test_bad_periods_are_refused_and_other_organizations_see_nothing(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner, stranger = await make_member(), await make_member()
        track, campaign = await _world(db, client, owner)
        backwards = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}?startDate=2027-01-10"
                                              "&endDate=2027-01-01", status=400)
        bad_date = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}?startDate=yesterday", status=400)
        bad_granularity = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}?granularity=hour",
                                     status=400)
        await _get(client, stranger, f"/v1/analytics/campaigns/{campaign}", status=404)
        await _get(client, stranger, f"/v1/analytics/tracks/{track}", status=404)
        overview = await _get(client, stranger, "/v1/analytics/overview")
    assert backwards["error"]["details"] == [{"field": "endDate", "message": "endDate must not be before startDate"}]
    assert bad_date["error"]["details"][0]["field"] == "startDate"
    assert bad_granularity["error"]["details"][0]["field"] == "granularity"
    assert overview["streams"]["current"] == 0 and overview["spend"] == []
    assert overview["incrementalStreams"]["current"] == 0 and overview["costPerIncrementalStream"] == []


async def test_the_overview_compares_with_the_previous_period_of_the_same_length(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        # It ran (a draft's dates owe nothing to it: the overview leaves drafts out).
        await db.execute("UPDATE campaigns SET status = 'completed', launched_at = start_date WHERE id = $1",
                         uuid.UUID(campaign))
        body = await _get(client, owner, "/v1/analytics/overview?startDate=2027-01-05&endDate=2027-01-15")
    assert body["previousPeriod"] == {"start": "2026-12-25", "end": "2027-01-04"}
    assert body["spend"] == [{"currency": "USD", "current": 100, "previous": 0, "change": 100,
                              "changePercent": None, "trend": "up"}]
    assert body["streams"] == {"current": 1560, "previous": 6 * 90 + 5 * 110, "change": 470, "changePercent": 43.12,
                               "trend": "up"}
    assert body["clicks"]["current"] == 200 and body["impressions"]["previous"] == 0
    # The campaign's own attribution over the period (its page says 527 too), and its spend over them.
    assert body["incrementalStreams"] == {"current": 527, "previous": 0, "change": 527, "changePercent": None,
                                          "trend": "up", "campaigns": 1, "campaignsLeftOut": 0,
                                          "previousCampaigns": 0, "previousCampaignsLeftOut": 0}
    assert body["costPerIncrementalStream"] == [{
        "currency": "USD", "current": 0.189753, "previous": None, "change": None, "changePercent": None,
        "trend": None, "spend": 100, "previousSpend": 0, "incrementalStreams": 527, "previousIncrementalStreams": 0}]


async def test_a_track_s_analytics_list_its_streams_and_its_campaigns_attribution(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        track, campaign = await _world(db, client, owner)
        body = await _get(client, owner, f"/v1/analytics/tracks/{track}")
    assert body["period"] == {"start": "2026-10-18", "end": "2027-01-15"}
    assert body["streams"]["total"] == 2800 + 1560
    assert body["streams"]["daily"][0] == {"day": "2026-12-08", "streams": 110, "source": "report"}
    assert [(c["id"], c["incrementalStreams"], c["confidence"]) for c in body["campaigns"]] == [
        (campaign, 527, "high")]
    assert body["listeners"] == {"optedIn": 0, "played": 0, "plays": 0, "spotifyForArtists": None}


async def _linked_to_account(db: Database, owner: Member, campaign: str, timezone_name: str) -> None:
    """Link the campaign to a Meta campaign of an ad account in ``timezone_name``, as the Meta actor
    records the account."""
    await campaign_meta.link_meta(db, owner.org_id, uuid.UUID(campaign), ad_account_id="act_42",
                                  meta_campaign_id="120000042", effective_status="ACTIVE")
    await campaign_meta.record_ad_accounts(db, owner.org_id, [campaign_meta.AdAccountInfo(
        account_id="act_42", name="Label", currency="USD", timezone_name=timezone_name)])


async def _spent(db: Database, owner: Member, campaign: str, day: date, minor: int) -> None:
    await facts.upsert_samples(db, [MetricSample(
        organization_id=owner.org_id, campaign_id=uuid.UUID(campaign), day=day, metric="spend_minor", value=minor,
        source="meta:1", observed_at=datetime.fromtimestamp(EPOCH, UTC), currency="USD")])


async def test_ad_days_are_the_linked_ad_account_s_and_may_run_ahead_of_utc(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        await _linked_to_account(db, owner, campaign, "Pacific/Tongatapu")
        # At 08:00 UTC it is already the 16th in Tonga (UTC+13), and Meta reports that day's spend.
        await _spent(db, owner, campaign, TODAY + timedelta(days=1), 700)
        body = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}")
    assert body["timezones"] == {"ads": "Pacific/Tongatapu", "streams": "UTC"}
    assert body["period"] == {"start": "2027-01-05", "end": "2027-01-16"}
    assert body["daily"][-1] == {"date": "2027-01-16", "spend": 7, "impressions": 0, "clicks": 0, "streams": 0}
    assert body["summary"]["totalSpend"] == 107


async def test_an_ad_account_west_of_utc_starts_the_campaign_s_period_on_its_own_day(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        await _linked_to_account(db, owner, campaign, "America/Los_Angeles")
        # The campaign starts at midnight UTC on the 5th: 16:00 on the 4th in Los Angeles, when Meta
        # counts its first spend.
        await _spent(db, owner, campaign, START - timedelta(days=1), 250)
        body = await _get(client, owner, f"/v1/analytics/campaigns/{campaign}")
    assert body["period"] == {"start": "2027-01-04", "end": "2027-01-15"}
    # The 4th is the campaign's first ad day but not one of its UTC days: its 90 streams are not the campaign's.
    assert body["daily"][0] == {"date": "2027-01-04", "spend": 2.5, "impressions": 0, "clicks": 0, "streams": 0}
    assert body["summary"]["totalSpend"] == 102.5
    assert body["summary"]["totalStreams"] == 1560
    assert body["summary"]["costPerStream"] == round(102.5 / 1560, 6)
    assert body["attribution"]["campaignStart"] == "2027-01-05"  # streams still count the UTC days
    assert body["attribution"]["streamsDuring"] == 1560


async def test_iso_datetimes_name_the_days_their_dates_name(
        db: Database, client: Client, make_member: MakeMember, mock_clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        _, campaign = await _world(db, client, owner)
        path = f"/v1/analytics/campaigns/{campaign}"
        by_dates = await _get(client, owner, f"{path}?startDate=2026-12-30&endDate=2027-01-15")
        by_times = await _get(client, owner, f"{path}?startDate=2026-12-30T00:00:00Z"
                                             "&endDate=2027-01-15T23:59:59.5%2B01:00")
        overview = await _get(client, owner, "/v1/analytics/overview?startDate=2027-01-05T12:00:00Z")
        no_such_day = await _get(client, owner, f"{path}?startDate=2027-02-30T00:00:00Z", status=400)
    # The period starts before the campaign; only the campaign's own days count: 10 days of 150 + today's 60.
    assert by_times == by_dates and by_times["summary"]["totalStreams"] == 1560
    assert overview["period"]["start"].startswith("2027-01-05")
    assert [d["field"] for d in no_such_day["error"]["details"]] == ["startDate"]
