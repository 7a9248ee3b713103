"""Ads Insights over Graph (PROVIDERS.md A3): synchronous reads paged to the end, and async report runs.

It owns the insights parameters (``time_range`` with an inclusive ``until``, ``level``,
``time_increment``, ``breakdowns``) and the report-run calls. It does not wait between status polls:
the caller (the poller actor) sleeps on its own clock and calls ``report_status`` again.
``MetaClient`` mixes these methods in; they share its ``GraphTransport``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from adapters.meta import schemas
from adapters.meta.schemas import InsightRow, ReportRun
from adapters.meta.transport import GraphTransport
from engine.provider import Result

__all__ = ["INSIGHT_FIELDS", "InsightsMethods", "insights_params"]

INSIGHT_FIELDS = (
    "account_id", "account_currency", "campaign_id", "campaign_name",
    "date_start", "date_stop", "impressions", "clicks", "spend", "ctr", "cpc", "cpm", "actions",
)
_PAGE_LIMIT = "500"  # limits count calls, not rows: fewer, larger pages are cheaper (PROVIDERS.md C)


def insights_params(since: date, until: date, *, level: str = "campaign", time_increment: int | str = 1,
                    breakdowns: Sequence[str] = (), fields: Sequence[str] = INSIGHT_FIELDS) -> dict[str, str]:
    """The Graph parameters of one insights query; ``until`` is inclusive, as Meta reads it.

    Raises ValueError when ``since`` is after ``until``.
    """
    if since > until:
        raise ValueError(f"since {since} is after until {until}")
    params = {
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "level": level,
        "time_increment": str(time_increment),
        "fields": ",".join(fields),
        "limit": _PAGE_LIMIT,
    }
    if breakdowns:
        params["breakdowns"] = ",".join(breakdowns)
    return params


class InsightsMethods:
    """The insights calls of ``MetaClient``. ``object_id`` is ``act_<digits>`` or a campaign id.

    Pass ``act_id`` for calls on a campaign or a report run so that rate-limit errors and usage
    signals name the right ad account (the path alone does not say).
    """

    _graph: GraphTransport

    async def campaign_insights(self, object_id: str, since: date, until: date, *, level: str = "campaign",
                                time_increment: int | str = 1, breakdowns: Sequence[str] = (),
                                act_id: str | None = None) -> Result[list[InsightRow]]:
        """Every row of a synchronous insights query, paged to the end.

        Error handling: a query too big for one synchronous call raises ``ReduceDataError``; split the
        range or use ``start_report``. Otherwise as ``GraphTransport.call``.
        """
        params = insights_params(since, until, level=level, time_increment=time_increment, breakdowns=breakdowns)
        return await self._graph.pages(f"{object_id}/insights", schemas.INSIGHTS_PAGE, params,
                                       account_id=_account(object_id, act_id))

    async def start_report(self, object_id: str, since: date, until: date, *, level: str = "campaign",
                           time_increment: int | str = 1, breakdowns: Sequence[str] = (),
                           act_id: str | None = None) -> Result[str]:
        """Submit an async report run with the same parameters; returns its ``report_run_id``.

        The id expires after 30 days: keep it for the run, not in long-term storage.
        """
        params = insights_params(since, until, level=level, time_increment=time_increment, breakdowns=breakdowns)
        result = await self._graph.post(f"{object_id}/insights", schemas.REPORT_STARTED, params,
                                        account_id=_account(object_id, act_id))
        return Result(result.data.report_run_id, result.signals)

    async def report_status(self, run_id: str, *, act_id: str | None = None) -> Result[ReportRun]:
        """One status poll; ``data.completed`` says the rows are ready, ``data.failed`` that they never will be."""
        return await self._graph.get(run_id, schemas.REPORT_RUN, account_id=act_id)

    async def report_rows(self, run_id: str, *, act_id: str | None = None) -> Result[list[InsightRow]]:
        """Every row of a completed run, paged to the end; a run not yet complete is a ``FatalProviderError`` (100)."""
        return await self._graph.pages(f"{run_id}/insights", schemas.INSIGHTS_PAGE, {"limit": _PAGE_LIMIT},
                                       account_id=act_id)


def _account(object_id: str, act_id: str | None) -> str | None:
    return act_id or (object_id if object_id.startswith("act_") else None)
