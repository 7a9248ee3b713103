"""The actor messages: what the account actors and the stream counter tell the aggregator, one daily figure
of one campaign from one source (``MetricSample``). Pure data; the store keeps it as a fact
(``engine.store.facts``) and nothing here does I/O.

A sample is absolute, not a delta: "campaign C spent 1,234 minor units on day D, as source S sees it now".
The aggregator stores it under (campaign, day, metric, source), replacing what that source said before,
so a re-poll or a provider's restatement of a past day never double counts.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import msgspec

from engine.lease_plan import Lease

__all__ = ["Metric", "MetricSample"]

Metric = Literal["spend_minor", "impressions", "clicks", "streams"]


class MetricSample(msgspec.Struct, frozen=True, kw_only=True):
    """``value`` is the whole day's figure. ``spend_minor`` is in minor units of ``currency`` (Meta's
    offsets: 1 for JPY, 100 for USD); other metrics have no currency. ``day`` is the ad account's local day
    for Meta figures and the UTC day for streams. ``source`` names who reported it (``meta:<campaign id>``,
    ``stream_events``: the stream counter, for every source of streams)."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    day: date
    metric: Metric
    value: int
    source: str
    observed_at: datetime
    currency: str | None = None
    # The lease of the account actor that sent it (None for the stream counter, which holds none): the
    # aggregator drops the sample if another engine process claimed the account since (``leases.fenced``).
    lease: Lease | None = None
