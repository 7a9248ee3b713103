"""Making an export's file in the background: read the analytics, render them (in a worker thread: a
400-point PDF takes tens of milliseconds, an XLSX more), store the file. Progress is stored as it goes,
for ``GET /v1/reports/{id}``."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import trio

from engine.analytics.campaign import AnalyticsRules, PeriodError, campaign_analytics
from engine.exports import render
from engine.metrics import EXPORTS
from engine.store import report_exports as store
from engine.store.database import Database

__all__ = ["produce"]

log = logging.getLogger(__name__)


async def produce(db: Database, org_id: uuid.UUID, export: store.ReportExport, *, rules: AnalyticsRules,
                  now: datetime) -> store.ReportExport:
    """Make a campaign export's file and end it. Error handling: a campaign deleted meanwhile or a period
    no longer valid ends it failed with the reason; anything else ends it failed ("internal error") and
    propagates; cancellation (the server stopping) ends it failed ("interrupted") and propagates."""
    assert export.campaign_id is not None
    error = "interrupted: the server stopped; ask for the export again"
    try:
        await store.set_progress(db, export.id, 10)
        report = await campaign_analytics(db, org_id, export.campaign_id, start=export.period_start,
                                          end=export.period_end, granularity=export.granularity,
                                          rules=rules, now=now)
        if report is None:
            error = "the campaign was deleted"
            raise LookupError(error)
        await store.set_progress(db, export.id, 40)
        content = await trio.to_thread.run_sync(render, report, export.format)
        await store.set_progress(db, export.id, 90)
        return _count(await store.finish_export(db, export.id, content=content))
    except (LookupError, PeriodError) as exc:
        return await _failed(db, export.id, str(exc))
    except Exception:
        error = "internal error"
        log.exception("export %s failed", export.id)
        await _failed(db, export.id, error)
        raise
    except BaseException:
        await _failed(db, export.id, error)
        raise


async def _failed(db: Database, export_id: uuid.UUID, error: str) -> store.ReportExport:
    with trio.CancelScope(shield=True), trio.move_on_after(5):
        return _count(await store.finish_export(db, export_id, content=None, error=error))
    raise RuntimeError("could not record the export's failure")  # pragma: no cover - database unreachable


def _count(ended: store.ReportExport) -> store.ReportExport:
    EXPORTS.labels(ended.format, ended.status).inc()
    return ended
