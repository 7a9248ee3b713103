"""The campaign lifecycle as a table: which action moves a campaign from which statuses to which status,
and what a campaign needs before it may launch. Pure: no I/O, no clock (``now`` is passed in).

Applying a transition atomically is the store's job (``set_campaign_status`` takes ``sources`` as its
``expected_from``); this module only says what is legal.

    action     from                       to
    launch     draft, paused              active     (from paused, this resumes it)
    pause      active                     paused
    complete   active, paused             completed
    archive    draft, paused, completed   archived   (final: no action leaves it)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, get_args

__all__ = [
    "ACTIONS",
    "STATUSES",
    "TRANSITIONS",
    "Action",
    "IllegalAction",
    "Status",
    "Transition",
    "action_to",
    "allowed_actions",
    "apply",
    "completed_data",
    "launch_blockers",
]

Status = Literal["draft", "active", "paused", "completed", "archived"]
Action = Literal["launch", "pause", "complete", "archive"]
STATUSES: tuple[Status, ...] = get_args(Status)
ACTIONS: tuple[Action, ...] = get_args(Action)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status


TRANSITIONS: Mapping[Action, Transition] = MappingProxyType({
    # Launching a paused campaign resumes it: Meta has one "ACTIVE" switch for both.
    "launch": Transition(frozenset({"draft", "paused"}), "active"),
    "pause": Transition(frozenset({"active"}), "paused"),
    "complete": Transition(frozenset({"active", "paused"}), "completed"),
    # An active campaign is spending money; it is paused (or completed) before it is filed away.
    "archive": Transition(frozenset({"draft", "paused", "completed"}), "archived"),
})


class IllegalAction(ValueError):
    """``action`` is not allowed from ``current``; ``allowed`` lists the actions that are."""

    def __init__(self, current: str, action: str) -> None:
        super().__init__(f"cannot {action} a campaign that is {current}")
        self.current, self.action = current, action
        self.allowed = allowed_actions(current)


def allowed_actions(status: str) -> tuple[Action, ...]:
    """The actions allowed from ``status``, in the order of ``ACTIONS`` (none for an unknown status)."""
    return tuple(action for action in ACTIONS if status in TRANSITIONS[action].sources)


def apply(status: str, action: Action) -> Status:
    """The status ``action`` leads to from ``status``; raises ``IllegalAction`` when it is not allowed."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        raise IllegalAction(status, action)
    return transition.target


def action_to(current: str, target: str) -> Action | None:
    """The action that moves a campaign from ``current`` to ``target``, or ``None`` when none does.

    Each target status is reached by exactly one action, so a requested status names its action.
    """
    for action in allowed_actions(current):
        if TRANSITIONS[action].target == target:
            return action
    return None


def launch_blockers(*, has_track: bool, budget: float, end_date: datetime, now: datetime) -> list[tuple[str, str]]:
    """What stops a campaign from launching at ``now``, as ``(field, reason)`` pairs; empty when it may.

    A campaign promotes a track and spends money: without either, Meta would run an ad for nothing; and
    one whose end date has passed would be completed at once.
    """
    blockers = []
    if not has_track:
        blockers.append(("trackId", "a campaign needs a track before it can launch"))
    if budget <= 0:
        blockers.append(("budget", "a campaign needs a budget above 0 before it can launch"))
    if end_date <= now:
        blockers.append(("endDate", f"the campaign ended on {end_date.isoformat()}: move its endDate"
                                    " into the future to launch it"))
    return blockers


def completed_data(campaign_id: uuid.UUID, name: str, *, end_date: datetime, budget_spent: Decimal | float,
                   currency: str, metrics: Mapping[str, int]) -> dict[str, object]:
    """``campaign.completed``'s data, whoever completes the campaign (the rules at its end date, a member).
    ``endDate`` stays a datetime: encoded like every other time of the events (RFC 3339, ``Z``)."""
    return {"campaignId": str(campaign_id), "campaignName": name, "endDate": end_date,
            "budgetSpent": round(float(budget_spent), 2), "currency": currency, "metrics": dict(metrics)}
