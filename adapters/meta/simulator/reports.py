"""Asynchronous insights report runs (PROVIDERS.md A3): submit, poll the status, read the paged results.

It owns the runs and their progress on the simulated clock. A run snapshots its rows when submitted
(Meta computes them while it runs; the numbers are the same unless a restatement lands in between).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import Clock
from .config import SimulatorConfig
from .graph import GraphError, Request, Response, json_response, page

__all__ = ["ReportRun", "Reports"]

Json = dict[str, object]
_EXPIRY_S = 30 * 86400


@dataclass(slots=True)
class ReportRun:
    id: str
    account_id: str
    rows: list[Json]
    submitted: float
    fails: bool


class Reports:
    """The report runs of every account, keyed by ``report_run_id``."""

    def __init__(self, config: SimulatorConfig, clock: Clock, rng: random.Random) -> None:
        self._config, self._clock, self._rng = config, clock, rng
        self.runs: dict[str, ReportRun] = {}

    def submit(self, account_id: str, rows: list[Json]) -> Response:
        run_id = "60" + "".join(str(self._rng.randrange(10)) for _ in range(11))
        fails = self._rng.random() < self._config.faults.report_failure_rate
        self.runs[run_id] = ReportRun(run_id, account_id, rows, self._clock.now(), fails)
        return json_response({"report_run_id": run_id})

    def _progress(self, run: ReportRun) -> tuple[str, int]:
        elapsed, duration = self._clock.now() - run.submitted, self._config.report_run_s
        if elapsed > _EXPIRY_S:
            return "Job Skipped", 0
        if elapsed < 0.1 * duration:
            return "Job Not Started", 0
        if elapsed < 0.2 * duration:
            return "Job Started", 0
        if elapsed < duration:
            return "Job Running", int(100 * elapsed / duration)
        return ("Job Failed", 100) if run.fails else ("Job Completed", 100)

    def status(self, run: ReportRun, request: Request) -> Response:
        status, percent = self._progress(run)
        body: Json = {
            "id": run.id,
            "account_id": run.account_id,
            "time_ref": int(run.submitted),
            "async_status": status,
            "async_percent_completion": percent,
        }
        if status in ("Job Completed", "Job Failed"):
            body["time_completed"] = int(run.submitted + self._config.report_run_s)
        if status == "Job Failed":  # v25.0 added the error fields to failed runs
            body.update(
                error_code=-2,
                error_subcode=2490547,
                error_message="Async report failed",
                error_user_title="Report failed",
                error_user_msg="The report could not be generated. Please try again.",
            )
        return json_response(body)

    def results(self, run: ReportRun, request: Request) -> Response:
        """The rows of a completed run, cursor paged; 100 while it is not complete."""
        status, _ = self._progress(run)
        if status != "Job Completed":
            raise GraphError(f"(#100) Report run {run.id} is not complete: {status}", code=100)
        return json_response(page(run.rows, request))
