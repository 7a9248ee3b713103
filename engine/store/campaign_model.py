"""A campaign as the store reads and writes it: the Structs that ``campaigns.py`` (the queries) and
``campaign_events.py`` (what the changes announce) share, so neither has to import the other for them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from engine.guardrail import Guardrail, PausedReason

__all__ = ["Campaign", "CampaignMetaRefusal", "CampaignMetaSync", "CampaignMetrics", "Goal", "NewCampaign",
           "TrackSummary"]


class TrackSummary(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    title: str
    artist: str


class Goal(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A target the alert engine watches: ``metric`` is streams, clicks or impressions."""

    metric: str
    target: int


class CampaignMetrics(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    impressions: int
    clicks: int
    streams: int


class CampaignMetaRefusal(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A push to the linked Meta campaign that was refused: ``action`` is what we pushed (``set_budget`` at
    link or on a budget change, ``launch`` with the status), ``code`` the API error code of the refusal
    (``INTEGRATION_ERROR``: Meta refused or could not be reached; ``CONFLICT``: we did not push, see the
    message), ``at`` when."""

    action: str
    code: str
    message: str
    at: datetime


class CampaignMetaSync(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the linked Meta campaign has from us: ``budget_minor`` is the lifetime budget Meta last accepted
    (minor units of ``currency``, the ad account's), ``synced_at`` when; ``error`` the last refused push,
    cleared by the next success."""

    budget_minor: int | None
    currency: str | None
    synced_at: datetime | None
    error: CampaignMetaRefusal | None


class Campaign(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A campaign as the API shows it; ``goals`` are ordered by metric, money is a float to the cent."""

    id: uuid.UUID
    name: str
    description: str | None
    status: str
    objective: str
    track_id: uuid.UUID | None
    track: TrackSummary | None
    budget: float
    currency: str
    budget_spent: float
    start_date: datetime
    end_date: datetime
    target_audience: dict[str, object]
    creative_assets: dict[str, object]
    goals: list[Goal]
    metrics: CampaignMetrics
    launched_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # The Meta campaign it is linked to (``POST /v1/meta/campaigns``): all three None when unlinked.
    meta_ad_account_id: str | None = None
    meta_campaign_id: str | None = None
    meta_effective_status: str | None = None
    budget_guardrail: Guardrail = Guardrail()
    paused_reason: PausedReason | None = None  # set while it is paused, with why
    # Our pushes to that Meta campaign (``campaign_meta.record_meta_sync``); None before the first.
    meta_sync: CampaignMetaSync | None = None


class NewCampaign(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The fields of a campaign to create; the same names are the keys ``update_campaign`` accepts."""

    name: str
    objective: str
    budget: float
    currency: str
    start_date: datetime
    end_date: datetime
    description: str | None = None
    track_id: uuid.UUID | None = None
    target_audience: dict[str, object] = {}
    creative_assets: dict[str, object] = {}
    guardrail_enabled: bool = True
    guardrail_percent: int | None = None  # None: the [rules] default
