"""SQL for what rules read: each campaign's stored history (``engine.rules.figures.CampaignHistory``) and
its state for an action (``engine.rules.actions.CampaignState``), for many campaigns in a few queries. Every
function takes the organization's id and filters on it.

The sources are the analytics' (``engine.store.analytics``): ad figures are the campaign's daily facts in
its currency (the ad account's days), streams are ``track_day_streams`` (UTC days, the baseline's days
before the campaign included), fans are ``campaign_listeners`` and their ``listener_plays`` after opt-in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from engine.guardrail import Guardrail, PausedReason
from engine.rules.actions import CampaignState, PausedBy
from engine.rules.figures import AdDay, CampaignHistory, ListenerDay
from engine.store.rows import Queries

__all__ = ["LockedCampaign", "campaign_states", "load_histories", "lock_campaign", "rule_campaign_ids"]

_CAMPAIGNS = (
    "SELECT c.id, c.organization_id, c.name, c.status, c.currency::text AS currency, c.budget, c.start_date,"
    " c.end_date, c.track_id, c.guardrail_enabled, c.guardrail_percent, c.paused_reason,"
    " a.timezone_name AS ads_timezone FROM campaigns c"
    " LEFT JOIN meta_ad_accounts a ON a.organization_id = c.organization_id"
    " AND a.account_id = CASE WHEN c.meta_ad_account_id ~ '^[0-9]+$' THEN 'act_' || c.meta_ad_account_id"
    " ELSE c.meta_ad_account_id END"
    " WHERE c.organization_id = $1 AND c.id = ANY($2::uuid[])"
)
_AD_DAYS = (
    "SELECT f.campaign_id, f.day,"
    " coalesce(sum(f.value) FILTER (WHERE f.metric = 'spend_minor' AND f.currency = upper(c.currency::text)), 0)"
    "::bigint AS spend_minor,"
    " coalesce(sum(f.value) FILTER (WHERE f.metric = 'impressions'), 0)::bigint AS impressions,"
    " coalesce(sum(f.value) FILTER (WHERE f.metric = 'clicks'), 0)::bigint AS clicks"
    " FROM campaign_daily_facts f JOIN campaigns c ON c.id = f.campaign_id"
    " WHERE f.organization_id = $1 AND f.campaign_id = ANY($2::uuid[]) AND f.metric <> 'streams'"
    " GROUP BY f.campaign_id, f.day"
)
_STREAM_DAYS = (
    "SELECT track_id, day, streams FROM track_day_streams WHERE organization_id = $1"
    " AND track_id = ANY($2::uuid[]) AND day >= $3"
)
_FIRST_STREAM_DAYS = (
    "SELECT t.id AS track_id, least("
    " (SELECT min(day) FROM track_report_days r WHERE r.track_id = t.id AND r.organization_id = $1),"
    " (SELECT min(d.day) FROM stream_days d WHERE d.track_id = t.id)) AS day"
    " FROM tracks t WHERE t.organization_id = $1 AND t.id = ANY($2::uuid[])"
)
_LISTENER_DAYS = (
    "SELECT cl.campaign_id, (cl.opted_in_at AT TIME ZONE 'UTC')::date AS day, count(*) AS opted_in, 0 AS plays"
    " FROM campaign_listeners cl JOIN campaigns c ON c.id = cl.campaign_id"
    " WHERE c.organization_id = $1 AND cl.campaign_id = ANY($2::uuid[]) GROUP BY 1, 2"
    " UNION ALL"
    " SELECT cl.campaign_id, (p.played_at AT TIME ZONE 'UTC')::date AS day, 0 AS opted_in, count(*) AS plays"
    " FROM campaign_listeners cl JOIN campaigns c ON c.id = cl.campaign_id JOIN tracks t ON t.id = c.track_id"
    " JOIN listener_plays p ON p.listener_id = cl.listener_id AND p.spotify_track_id = t.spotify_id"
    " AND p.played_at >= cl.opted_in_at"
    " WHERE c.organization_id = $1 AND cl.campaign_id = ANY($2::uuid[]) GROUP BY 1, 2"
)


class LockedCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign's status and budget as they are now, locked until the caller commits, and whether it is
    linked to a Meta campaign (so an action has a Meta campaign to write to)."""

    name: str
    status: str
    budget: Decimal
    linked: bool


async def lock_campaign(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> LockedCampaign | None:
    """The campaign's row, locked (``FOR UPDATE``) so an action decides on values no one else changes before
    it commits; ``None`` when the organization has no such campaign."""
    row = await q.fetchrow("SELECT name, status, budget, meta_campaign_id IS NOT NULL AS linked FROM campaigns"
                           " WHERE organization_id = $1 AND id = $2 FOR UPDATE", org_id, campaign_id)
    return None if row is None else LockedCampaign(name=row["name"], status=row["status"],
                                                   budget=Decimal(row["budget"]), linked=row["linked"])


def _paused_by(raw: Any) -> PausedBy | None:
    if raw is None:
        return None
    cause = msgspec.json.decode(raw, type=PausedReason).cause  # jsonb arrives as its text
    if cause.rule_id is not None:
        return "rule"
    return "guardrail" if cause.guardrail is not None else "member"


async def campaign_states(q: Queries, org_id: uuid.UUID,
                          campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CampaignState]:
    """Each of the organization's campaigns among ``campaign_ids`` as an action sees it."""
    rows = await q.fetch(_CAMPAIGNS, org_id, list(campaign_ids))
    return {row["id"]: _state(row) for row in rows}


def _state(row: Any) -> CampaignState:
    return CampaignState(
        status=row["status"], budget=Decimal(row["budget"]), currency=row["currency"].strip(),
        paused_by=_paused_by(row["paused_reason"]) if row["status"] == "paused" else None,
        guardrail=Guardrail(enabled=row["guardrail_enabled"], percent=row["guardrail_percent"]))


async def load_histories(q: Queries, org_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID], *,
                         baseline_days: int) -> dict[uuid.UUID, tuple[CampaignHistory, CampaignState]]:
    """The history and state of each of the organization's campaigns among ``campaign_ids``: all their ad
    days, their track's stream days from ``baseline_days`` before their start, and their fans' days."""
    ids = list(campaign_ids)
    rows = await q.fetch(_CAMPAIGNS, org_id, ids)
    if not rows:
        return {}
    ads: dict[uuid.UUID, dict[date, AdDay]] = defaultdict(dict)
    for row in await q.fetch(_AD_DAYS, org_id, ids):
        ads[row["campaign_id"]][row["day"]] = AdDay(spend_minor=row["spend_minor"], impressions=row["impressions"],
                                                    clicks=row["clicks"])
    tracks = sorted({row["track_id"] for row in rows if row["track_id"] is not None})
    since = min(row["start_date"] for row in rows).date() - timedelta(days=baseline_days + 1)
    streams: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    first_days: dict[uuid.UUID, date | None] = {}
    if tracks:
        for row in await q.fetch(_STREAM_DAYS, org_id, tracks, since):
            streams[row["track_id"]][row["day"]] = row["streams"]
        first_days = {row["track_id"]: row["day"] for row in await q.fetch(_FIRST_STREAM_DAYS, org_id, tracks)}
    fans: dict[uuid.UUID, dict[date, ListenerDay]] = defaultdict(dict)
    for row in await q.fetch(_LISTENER_DAYS, org_id, ids):
        known = fans[row["campaign_id"]].get(row["day"], ListenerDay(opted_in=0, plays=0))
        fans[row["campaign_id"]][row["day"]] = ListenerDay(opted_in=known.opted_in + row["opted_in"],
                                                           plays=known.plays + row["plays"])
    out: dict[uuid.UUID, tuple[CampaignHistory, CampaignState]] = {}
    for row in rows:
        track = row["track_id"]
        history = CampaignHistory(
            campaign_id=row["id"], organization_id=row["organization_id"], name=row["name"], status=row["status"],
            currency=row["currency"].strip(), budget=Decimal(row["budget"]), start_date=row["start_date"],
            end_date=row["end_date"], track_id=track, ads_timezone=row["ads_timezone"], ad_days=ads[row["id"]],
            stream_days=streams[track] if track is not None else {},
            first_stream_day=first_days.get(track) if track is not None else None, listener_days=fans[row["id"]],
        )  # fmt: skip
        out[row["id"]] = (history, _state(row))
    return out


async def rule_campaign_ids(q: Queries, org_id: uuid.UUID, *, statuses: Sequence[str],
                            campaigns: Sequence[uuid.UUID] | None = None,
                            tracks: Sequence[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """The organization's campaigns in ``statuses`` that a rule's scope names: those in ``campaigns``, or of
    ``tracks``, or all when both are None; oldest first."""
    if campaigns is None and tracks is None:
        rows = await q.fetch("SELECT id FROM campaigns WHERE organization_id = $1 AND status = ANY($2::text[])"
                             " ORDER BY created_at, id", org_id, list(statuses))
    else:
        rows = await q.fetch(
            "SELECT id FROM campaigns WHERE organization_id = $1 AND status = ANY($2::text[])"
            " AND (id = ANY($3::uuid[]) OR track_id = ANY($4::uuid[])) ORDER BY created_at, id",
            org_id, list(statuses), list(campaigns or []), list(tracks or []))
    return [row["id"] for row in rows]
