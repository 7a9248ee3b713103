"""The daily reporter against a real database: yesterday's report of each organization whose campaigns
ran, once, as a CSV behind a signed link, announced by a ``report.daily.ready`` webhook event."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import msgspec

from actors.daily_reporter import DailyReporter
from engine import report_links
from engine.analytics.campaign import AnalyticsRules
from engine.messages import MetricSample
from engine.store import facts, imports, report_exports
from engine.store.database import Database
from tests.helpers.factories import create_campaign, create_endpoint, create_org, create_track

NOW = datetime(2027, 1, 15, 6, tzinfo=UTC)
DAY = date(2027, 1, 14)  # yesterday
KEY = report_links.link_key(b"k" * 32)


async def _label(db: Database, name: str) -> uuid.UUID:
    """An organization subscribed to daily reports."""
    org = await create_org(db, name)
    await create_endpoint(db, org, "report.daily.ready")
    return org


async def _campaign_with_figures(db: Database, org: uuid.UUID, start: date, end: date,
                                 status: str = "active") -> uuid.UUID:
    """A campaign from ``start`` to ``end`` whose track has streams from 10 days before it, and spend and
    clicks on DAY."""
    track = await create_track(db, org, title="Frost", artist="Ana")
    campaign = await create_campaign(db, org, name="Winter, Single", budget=500.0, track_id=track, status=status,
                                     start=datetime.combine(start, datetime.min.time(), UTC),
                                     end=datetime.combine(end, datetime.max.time(), UTC))
    await imports.upsert_track_days(db, org, None, "s4a", [
        imports.TrackDay(track_id=track, day=start + timedelta(days=n), streams=50 + n) for n in range(-10, 3)])
    await facts.upsert_samples(db, [MetricSample(
        organization_id=org, campaign_id=campaign, day=DAY, metric=metric, value=value, source="meta:1",
        observed_at=NOW, currency=currency) for metric, value, currency in (("spend_minor", 4250, "USD"),
                                                                            ("clicks", 7, None))])
    return campaign


def _reporter(db: Database) -> DailyReporter:
    return DailyReporter(db, link_key=KEY, public_url="https://songtrack.example", rules=AnalyticsRules(),
                         ttl=timedelta(days=1), wall=lambda: NOW)


async def test_yesterday_s_report_is_made_once_and_announced_with_a_signed_link(db: Database) -> None:
    org = await _label(db, "Nightshift")
    campaign = await _campaign_with_figures(db, org, DAY - timedelta(days=2), DAY + timedelta(days=5))
    quiet = await _label(db, "Quiet")
    await _campaign_with_figures(db, quiet, DAY + timedelta(days=1), DAY + timedelta(days=5))  # starts today
    await _campaign_with_figures(db, quiet, DAY - timedelta(days=5), DAY + timedelta(days=5), status="draft")
    reporter = _reporter(db)
    await reporter.report(DAY)
    await reporter.report(DAY)  # nothing twice
    events = await db.fetch("SELECT organization_id, type, payload::text FROM webhook_events"
                            " WHERE type <> 'campaign.created'")
    assert [(row["organization_id"], row["type"]) for row in events] == [(org, "report.daily.ready")]
    data = msgspec.json.decode(events[0]["payload"])["data"]
    assert (data["date"], data["campaigns"], data["format"]) == ("2027-01-14", 1, "csv")
    assert data["expiresAt"] == "2027-01-16T06:00:00Z"
    url = urlsplit(data["reportUrl"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == f"/v1/reports/{data['reportId']}/download" and url.netloc == "songtrack.example"
    assert report_links.check(KEY, uuid.UUID(data["reportId"]), int(query["expires"]), query["signature"],
                              NOW.timestamp()) == "valid"
    found = await report_exports.export_file(db, uuid.UUID(data["reportId"]))
    assert found is not None and found[0].kind == "daily" and found[1] is not None
    rows = list(csv.DictReader(io.StringIO(found[1].decode())))
    assert rows == [{"date": "2027-01-14", "campaign_id": str(campaign), "campaign": "Winter, Single",
                     "currency": "USD", "spend": "42.50", "impressions": "0", "clicks": "7", "streams": "52",
                     "streams_to_date": str(50 + 51 + 52),
                     "incremental_streams_to_date": str(round(153 - 3 * 44.5)),  # a baseline of 40..49
                     "confidence": "high"}]
    assert reporter.reports_made == 1
