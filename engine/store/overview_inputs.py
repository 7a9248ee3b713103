"""SQL for what the overview's incremental streams read (``engine.analytics.incremental``): the campaigns
with a track that overlap a range of UTC days, their tracks' streams and first data days, and their spend,
in the same few queries however many campaigns there are. Every function takes the organization's id and filters on it.

The sources are the analytics' (``engine.store.analytics``): streams are ``track_day_streams`` (UTC days),
spend is the campaign's daily facts in its own currency (the ad account's days).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from engine.analytics.incremental import AttributedCampaign, TrackStreams
from engine.store.analytics import first_stream_days
from engine.store.rows import Queries

__all__ = ["attributed_campaigns", "campaign_spend", "track_streams"]


async def attributed_campaigns(q: Queries, org_id: uuid.UUID, since: date, until: date,
                               now: datetime) -> list[AttributedCampaign]:
    """The organization's campaigns with a track that were ever launched, have started by ``now`` and whose
    UTC days overlap ``since``..``until``, whatever their status now; oldest first. A draft never ran: its
    track's streams over its dates owe nothing to it."""
    rows = await q.fetch(
        "SELECT id, upper(trim(currency::text)) AS currency, track_id, start_date, end_date FROM campaigns"
        " WHERE organization_id = $1 AND track_id IS NOT NULL AND launched_at IS NOT NULL AND start_date <= $4"
        " AND (start_date AT TIME ZONE 'UTC')::date <= $3 AND (end_date AT TIME ZONE 'UTC')::date >= $2"
        " ORDER BY start_date, id", org_id, since, until, now)
    return [AttributedCampaign(**dict(row)) for row in rows]


async def track_streams(q: Queries, org_id: uuid.UUID, campaigns: Sequence[AttributedCampaign], since: date,
                        until: date, *, baseline_days: int) -> dict[uuid.UUID, TrackStreams]:
    """The streams of the campaigns' tracks per UTC day from ``since`` to ``until`` and over each campaign's
    ``baseline_days`` before its first day (nothing between), with each track's first data day."""
    ids = [c.id for c in campaigns]
    tracks = sorted({c.track_id for c in campaigns})
    days: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    # Only the days the model reads: a campaign that began long before the period needs its baseline's days,
    # not the months between.
    for row in await q.fetch(
            "SELECT DISTINCT s.track_id, s.day, s.streams FROM track_day_streams s JOIN campaigns c"
            " ON c.track_id = s.track_id AND c.organization_id = s.organization_id"
            " WHERE s.organization_id = $1 AND c.id = ANY($2::uuid[]) AND (s.day BETWEEN $3 AND $4"
            " OR s.day BETWEEN (c.start_date AT TIME ZONE 'UTC')::date - $5::int"
            " AND (c.start_date AT TIME ZONE 'UTC')::date - 1)", org_id, ids, since, until, baseline_days):
        days[row["track_id"]][row["day"]] = row["streams"]
    firsts = await first_stream_days(q, org_id, tracks)
    return {track: TrackStreams(days=days[track], first_day=firsts.get(track)) for track in tracks}


async def campaign_spend(q: Queries, org_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID], since: date,
                         until: date) -> dict[uuid.UUID, int]:
    """Each campaign's spend in its own currency (minor units) over the ad days ``since``..``until``
    (campaigns without any left out; spend Meta reported in another currency is not counted)."""
    rows = await q.fetch(
        "SELECT f.campaign_id, sum(f.value)::bigint AS spend_minor FROM campaign_daily_facts f"
        " JOIN campaigns c ON c.id = f.campaign_id WHERE f.organization_id = $1 AND f.campaign_id = ANY($2::uuid[])"
        " AND f.day BETWEEN $3 AND $4 AND f.metric = 'spend_minor' AND f.currency = upper(trim(c.currency::text))"
        " GROUP BY 1", org_id, list(campaign_ids), since, until)
    return {row["campaign_id"]: row["spend_minor"] for row in rows}
