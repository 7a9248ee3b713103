"""The budget guardrail, pure: whether a campaign's spend has reached the share of its budget at which it
must stop (``tripped``), and what a campaign records when it is paused (``PauseCause``, ``PausedReason``).

No I/O and no clock: the aggregator pauses an active campaign that ``tripped`` says is over, the launch
route refuses to start one, and the Meta account actor pauses its Meta campaign. Which percent applies is
the campaign's own (``Guardrail.percent``) or else ``[rules] guardrail_percent``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import msgspec

__all__ = ["Guardrail", "GuardrailTrip", "PauseCause", "PausedReason", "effective_percent", "tripped"]


class Guardrail(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A campaign's guardrail: on unless ``enabled`` is false, at ``percent`` of the budget (``None``: the
    ``[rules]`` default)."""

    enabled: bool = True
    percent: int | None = None


class GuardrailTrip(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the guardrail saw when it stopped a campaign: the percent in force and the money, in major
    units of ``currency``."""

    percent: int
    budget: float
    budget_spent: float
    currency: str


class PauseCause(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Who changed a campaign's status or budget: a member (``userId``), a rule (``ruleId``) or the
    guardrail (``guardrail``); exactly one is set. Encoded without the others, so a consumer sees
    ``{"userId": ...}``, ``{"ruleId": ...}`` or ``{"guardrail": {...}}``."""

    user_id: uuid.UUID | None = None
    rule_id: uuid.UUID | None = None
    guardrail: GuardrailTrip | None = None


class PausedReason(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Why a paused campaign is paused, and since when (kept only while it is paused)."""

    cause: PauseCause
    at: datetime


def effective_percent(guardrail: Guardrail, default: int) -> int | None:
    """The percent of the budget at which the campaign stops; ``None`` when its guardrail is off."""
    if not guardrail.enabled:
        return None
    return default if guardrail.percent is None else guardrail.percent


def tripped(guardrail: Guardrail, default: int, *, budget: Decimal | float, budget_spent: Decimal | float,
            currency: str) -> GuardrailTrip | None:
    """The trip when ``budget_spent`` has reached ``percent`` % of ``budget`` (at the limit counts), else
    ``None``: also when the guardrail is off or the budget is not above 0 (nothing to measure against).
    Floats are money to the cent, so they are compared through their decimal text."""
    percent = effective_percent(guardrail, default)
    spent, total = _decimal(budget_spent), _decimal(budget)
    if percent is None or total <= 0 or spent * 100 < total * percent:
        return None
    return GuardrailTrip(percent=percent, budget=round(float(total), 2), budget_spent=round(float(spent), 2),
                         currency=currency)


def _decimal(value: Decimal | float) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))
