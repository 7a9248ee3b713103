"""When the Meta poller calls and how far back it asks: ``MetaSchedule`` and the span of an ordinary
insights call (``days_back``). The accounting window of each Meta rate domain is the adapter's
(``adapters.meta.usage.meta_window``).

Pure rules, no I/O; the poller that follows them is ``actors/meta_account.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["MetaSchedule", "days_back"]


@dataclass(frozen=True)
class MetaSchedule:
    """When a ``MetaAccountActor`` polls (seconds of trio time); see ``actors/meta_account.py``."""

    interval: float = 900.0
    restatement_every: float = 6 * 3600.0
    restatement_days: int = 28
    park_after_failures: int = 8
    park_for: float = 1800.0


def days_back(polled: date | None, today: date, most: int) -> int:
    """Days before ``today`` an insights call starts: 1, or back to the previous call's day ``polled``,
    so a day that ended between two calls (a fast sandbox clock) gets its last figures. At most
    ``most``."""
    if polled is None:
        return 1
    return min(most, max(1, (today - polled).days))
