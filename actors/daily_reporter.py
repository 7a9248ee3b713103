"""The daily reporter: once a UTC day has ended, each organization with campaigns that ran that day gets
a report of it (a CSV: one row per campaign, engine.exports.daily_report), stored as an export with a
signed link, and a ``report.daily.ready`` webhook event carrying the link, in the same transaction.

One report per organization and day, however many times we look (the database's unique index decides,
so a restart or a second engine adds none). A day missed while the engine was down is reported at the
next start if it is yesterday; older days are not caught up (the analytics routes have them).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

import trio

from engine import report_links
from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.clock import utc_now
from engine.exports.daily_report import DailyRow, render_daily_csv
from engine.store import analytics as analytics_store
from engine.store import report_exports
from engine.store.database import Database
from engine.store.outbox import enqueue_event
from engine.supervisor import ChildSpec

__all__ = ["DAILY_REPORTER", "DailyReporter"]

log = logging.getLogger(__name__)
DAILY_REPORTER = "daily-reporter"


class DailyReporter:
    """Looks every ``interval`` seconds for yesterday's (UTC) reports still to make. ``link_key`` signs
    the links (``engine.report_links``), ``public_url`` prefixes them, ``ttl`` is how long they work."""

    def __init__(self, db: Database, *, link_key: bytes, public_url: str, rules: AnalyticsRules, ttl: timedelta,
                 interval: float = 600.0, wall: Callable[[], datetime] = utc_now) -> None:
        self._db, self._key, self._public_url, self._rules, self._ttl = db, link_key, public_url, rules, ttl
        self._interval, self._wall = interval, wall
        self.reports_made = 0

    def child_spec(self) -> ChildSpec:
        return ChildSpec(DAILY_REPORTER, self.run)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        task_status.started()
        while True:
            await self.report(self._wall().astimezone(UTC).date() - timedelta(days=1))
            await trio.sleep(self._interval)

    async def report(self, day: date) -> None:
        """Make the reports of ``day`` that do not exist yet."""
        for org_id, campaign_ids in (await analytics_store.campaigns_running_on(self._db, day)).items():
            if not await report_exports.daily_exists(self._db, org_id, day):
                await self._report(org_id, campaign_ids, day)

    async def _report(self, org_id: uuid.UUID, campaign_ids: list[uuid.UUID], day: date) -> None:
        now = self._wall()
        rows = [row for cid in campaign_ids if (row := await self._row(org_id, cid, day, now)) is not None]
        content = render_daily_csv(day, rows)
        expires = now.replace(microsecond=0) + self._ttl
        new = report_exports.NewExport(kind="daily", campaign_id=None, format="csv", granularity="day",
                                       period_start=day, period_end=day, filename=f"daily-report_{day}.csv",
                                       expires_at=expires)
        async with self._db.transaction() as tx:
            export = await report_exports.create_export(tx, org_id, new, None)
            if export is None:  # another engine made it meanwhile
                return
            await report_exports.finish_export(tx, export.id, content=content)
            url = self._public_url + report_links.download_path(self._key, export.id, int(expires.timestamp()))
            await enqueue_event(tx, org_id, "report.daily.ready", {
                "reportId": export.id, "date": day.isoformat(), "campaigns": len(rows), "format": "csv",
                "reportUrl": url, "expiresAt": expires}, now=now)
        self.reports_made += 1
        log.info("daily report of %s for organization %s: %d campaigns", day, org_id, len(rows))

    async def _row(self, org_id: uuid.UUID, campaign_id: uuid.UUID, day: date, now: datetime) -> DailyRow | None:
        analytics = await campaign_analytics(self._db, org_id, campaign_id, start=None, end=day, granularity="day",
                                             rules=self._rules, now=now)
        if analytics is None or not analytics.daily:  # deleted meanwhile
            return None
        point, attribution = analytics.daily[-1], analytics.attribution
        return DailyRow(campaign_id=campaign_id, campaign=analytics.campaign_name, currency=analytics.currency,
                        spend=point.spend, impressions=point.impressions, clicks=point.clicks, streams=point.streams,
                        streams_to_date=attribution.streams_during,
                        incremental_streams_to_date=attribution.incremental_streams,
                        confidence=attribution.confidence)
