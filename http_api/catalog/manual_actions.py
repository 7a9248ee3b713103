"""A member's pause, launch, resume and budget change of a campaign, recorded in the rules' history
(``engine.store.rule_runs``, marked manual) in the transaction of the change, so the history a rule shows
next to its own firings says who else acted on the campaign. Only the changes a rule's action could also
make are recorded: completing and archiving are not.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from engine.store import rule_runs
from engine.store.catalog_common import Executor

__all__ = ["record_budget", "record_status"]


def _status_action(before: str, after: str) -> str | None:
    if after == "paused":
        return "pause_campaign"
    if after == "active":
        return "launch_campaign" if before == "draft" else "resume_campaign"
    return None


async def _record(q: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, user_id: uuid.UUID, at: datetime,
                  action: str, before: dict[str, str], after: dict[str, str]) -> None:
    await rule_runs.insert_run(
        q, org_id, rule_id=None, rule_name=None, campaign_id=campaign_id, manual=True, user_id=user_id,
        dry_run=False, at=at, inputs={}, action={"type": action, "config": {}}, outcome="applied", detail=None,
        before=before, after=after, meta=None)  # fmt: skip


async def record_status(q: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, before: str, after: str,
                        user_id: uuid.UUID, at: datetime) -> None:
    """Record the member's move of the campaign from status ``before`` to ``after``, if a rule could make it
    (a pause, a launch of a draft, a resume of a paused campaign)."""
    action = _status_action(before, after)
    if action is not None and before != after:
        await _record(q, org_id, campaign_id, user_id=user_id, at=at, action=action, before={"status": before},
                      after={"status": after})


async def record_budget(q: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, before: float, after: float,
                        user_id: uuid.UUID, at: datetime) -> None:
    """Record the member's change of the campaign's budget (money to the cent), if it changed."""
    if before != after:
        await _record(q, org_id, campaign_id, user_id=user_id, at=at, action="adjust_budget",
                      before={"budget": f"{before:.2f}"}, after={"budget": f"{after:.2f}"})
