"""The event types an endpoint can subscribe to (WEBHOOKS.md "Webhook deliveries"), as one Literal the
API validates against and one tuple the docs and tests iterate. Every type listed here is sent by the
engine (``tests/songtrack/test_every_event.py`` provokes each one): a type nothing sends is dropped, not
listed. ``docs/webhooks.md`` documents each type's ``data``."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["EVENT_TYPES", "EventType"]

EventType = Literal[
    "campaign.created", "campaign.updated", "campaign.launched", "campaign.paused", "campaign.resumed",
    "campaign.completed", "campaign.budget_changed", "campaign.meta_sync_failed",
    "rule.triggered", "rule.action_failed",
    "metrics.updated", "report.daily.ready", "integration.connected", "integration.needs_reauth",
    "budget.warning", "budget.pacing", "goal.reached", "alert.fired", "webhook.test", "endpoint.disabled",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
