"""SQL for analytics: the stored figures a campaign's, a track's and an organization's analytics are
computed from. Every function takes the organization's id and filters on it.

Ad figures are the campaign's daily facts (Meta's days, in the ad account's timezone); stream figures
are ``track_day_streams`` (UTC days: a stream report's figure where one exists, else stream events).
Nothing here computes a ratio or a model: ``engine.analytics`` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import msgspec

from engine.store.campaign_model import Goal
from engine.store.rows import Queries, as_struct, maybe_struct

__all__ = [
    "AdDay",
    "ArtistDay",
    "CampaignFrame",
    "CurrencyTotals",
    "ListenerCounts",
    "MonthlySales",
    "PopularityDay",
    "ReportTotals",
    "StreamDay",
    "TrackCampaign",
    "ad_days",
    "ad_totals",
    "artist_days",
    "campaign_frame",
    "campaigns_running_on",
    "first_stream_day",
    "first_stream_days",
    "last_ad_day",
    "listener_counts",
    "monthly_sales",
    "popularity_history",
    "report_totals",
    "stream_days",
    "track_campaigns",
    "track_listeners",
    "tracks_streams_total",
]  # fmt: skip


class CampaignFrame(msgspec.Struct, frozen=True, kw_only=True):
    """What a campaign's analytics need of the campaign: its window, currency, track and ad timezone."""

    id: uuid.UUID
    name: str
    currency: str
    start_date: datetime
    end_date: datetime
    track_id: uuid.UUID | None
    ads_timezone: str | None  # the linked ad account's, once the Meta actor has read it
    budget: Decimal
    budget_spent: Decimal
    goals: list[Goal]
    totals: dict[str, int]  # running impressions, clicks and streams: what the goals are measured against


class AdDay(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign's ad figures on one of the ad account's days; spend in the campaign currency's minor
    units (facts in another currency are left out)."""

    day: date
    spend_minor: int
    impressions: int
    clicks: int


class StreamDay(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    streams: int
    source: str  # "report" or "events"


class ListenerCounts(msgspec.Struct, frozen=True, kw_only=True):
    opted_in: int
    matched: int
    plays: int


class CurrencyTotals(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    spend_minor: int
    impressions: int
    clicks: int


class PopularityDay(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    day: date
    popularity: int | None
    artist_followers: int | None


class TrackCampaign(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    status: str
    start_date: datetime
    end_date: datetime


class ArtistDay(msgspec.Struct, frozen=True, kw_only=True):
    """A day of the track's artist's audience timeline (Spotify for Artists): None where it said nothing."""

    day: date
    listeners: int | None
    streams: int | None
    followers: int | None


class ReportTotals(msgspec.Struct, frozen=True, kw_only=True):
    listeners: int | None
    streams: int
    saves: int | None
    release_date: date | None
    updated_at: datetime


class MonthlySales(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    month: date
    store: str
    quantity: int
    earnings_usd: str  # a decimal string: exact


async def campaign_frame(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> CampaignFrame | None:
    row = await q.fetchrow(
        "SELECT c.id, c.name, c.currency::text AS currency, c.start_date, c.end_date, c.track_id,"
        " a.timezone_name AS ads_timezone, c.budget, c.budget_spent,"
        " json_build_object('impressions', c.impressions, 'clicks', c.clicks, 'streams', c.streams) AS totals,"
        " COALESCE((SELECT json_agg(json_build_object('metric', g.metric, 'target', g.target) ORDER BY g.metric)"
        " FROM campaign_goals g WHERE g.campaign_id = c.id), '[]') AS goals FROM campaigns c"
        " LEFT JOIN meta_ad_accounts a ON a.organization_id = c.organization_id"
        " AND a.account_id = CASE WHEN c.meta_ad_account_id ~ '^[0-9]+$' THEN 'act_' || c.meta_ad_account_id"
        " ELSE c.meta_ad_account_id END"
        " WHERE c.organization_id = $1 AND c.id = $2", org_id, campaign_id)
    if row is None:
        return None
    record = dict(row)
    record["currency"] = record["currency"].strip()
    record["goals"], record["totals"] = msgspec.json.decode(record["goals"]), msgspec.json.decode(record["totals"])
    return msgspec.convert(record, CampaignFrame)


async def ad_days(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID, currency: str, since: date,
                  until: date) -> list[AdDay]:
    """The campaign's ad figures per day from ``since`` to ``until`` (both included), days with none left
    out, summed over sources."""
    rows = await q.fetch(
        "SELECT day, coalesce(sum(value) FILTER (WHERE metric = 'spend_minor' AND currency = upper($3)), 0)"
        "::bigint AS spend_minor, coalesce(sum(value) FILTER (WHERE metric = 'impressions'), 0)::bigint"
        " AS impressions, coalesce(sum(value) FILTER (WHERE metric = 'clicks'), 0)::bigint AS clicks"
        " FROM campaign_daily_facts WHERE organization_id = $1 AND campaign_id = $2 AND day BETWEEN $4 AND $5"
        " AND metric <> 'streams' GROUP BY day ORDER BY day", org_id, campaign_id, currency, since, until)
    return [as_struct(row, AdDay) for row in rows]


async def last_ad_day(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> date | None:
    """The newest day the campaign has ad figures for: an ad account east of UTC is a day ahead."""
    value = await q.fetchval("SELECT max(day) FROM campaign_daily_facts WHERE organization_id = $1"
                             " AND campaign_id = $2 AND metric <> 'streams'", org_id, campaign_id)
    assert value is None or isinstance(value, date)
    return value


async def stream_days(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, since: date, until: date) -> list[StreamDay]:
    """The track's streams per UTC day from ``since`` to ``until``; days with no data left out."""
    rows = await q.fetch("SELECT day, streams, source FROM track_day_streams WHERE organization_id = $1"
                         " AND track_id = $2 AND day BETWEEN $3 AND $4 ORDER BY day", org_id, track_id, since, until)
    return [as_struct(row, StreamDay) for row in rows]


async def first_stream_day(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID) -> date | None:
    """The first UTC day the track has any stream data for (a report day, even of 0, or an event)."""
    return (await first_stream_days(q, org_id, [track_id])).get(track_id)


async def first_stream_days(q: Queries, org_id: uuid.UUID, track_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    """``first_stream_day`` of each of the organization's tracks among ``track_ids`` (those without any data
    left out)."""
    rows = await q.fetch(
        "SELECT track_id, min(day) AS day FROM (SELECT track_id, min(day) AS day FROM track_report_days"
        " WHERE organization_id = $1 AND track_id = ANY($2::uuid[]) GROUP BY 1 UNION ALL"
        " SELECT d.track_id, min(d.day) FROM stream_days d JOIN tracks t ON t.id = d.track_id"
        " WHERE t.organization_id = $1 AND d.track_id = ANY($2::uuid[]) GROUP BY 1) firsts GROUP BY 1",
        org_id, list(track_ids))
    return {row["track_id"]: row["day"] for row in rows}


async def listener_counts(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID, since: datetime,
                          until: datetime) -> ListenerCounts:
    """The campaign's opted-in fans, and their plays of its track in [since, until) after their opt-in."""
    row = await q.fetchrow(
        "SELECT (SELECT count(*) FROM campaign_listeners WHERE campaign_id = c.id) AS opted_in,"
        " count(DISTINCT p.listener_id) AS matched, count(p.played_at) AS plays"
        " FROM campaigns c LEFT JOIN tracks t ON t.id = c.track_id"
        " LEFT JOIN campaign_listeners cl ON cl.campaign_id = c.id"
        " LEFT JOIN listener_plays p ON p.listener_id = cl.listener_id AND p.spotify_track_id = t.spotify_id"
        " AND p.played_at >= cl.opted_in_at AND p.played_at >= $3 AND p.played_at < $4"
        " WHERE c.organization_id = $1 AND c.id = $2 GROUP BY c.id", org_id, campaign_id, since, until)
    return ListenerCounts(opted_in=0, matched=0, plays=0) if row is None else as_struct(row, ListenerCounts)


async def ad_totals(q: Queries, org_id: uuid.UUID, since: date, until: date) -> list[CurrencyTotals]:
    """The organization's ad figures over its campaigns from ``since`` to ``until``, per spend currency
    (impressions and clicks of facts without a currency go with their campaign's currency)."""
    rows = await q.fetch(
        "SELECT coalesce(f.currency, upper(c.currency::text)) AS currency,"
        " coalesce(sum(f.value) FILTER (WHERE f.metric = 'spend_minor'), 0)::bigint AS spend_minor,"
        " coalesce(sum(f.value) FILTER (WHERE f.metric = 'impressions'), 0)::bigint AS impressions,"
        " coalesce(sum(f.value) FILTER (WHERE f.metric = 'clicks'), 0)::bigint AS clicks"
        " FROM campaign_daily_facts f JOIN campaigns c ON c.id = f.campaign_id"
        " WHERE f.organization_id = $1 AND f.day BETWEEN $2 AND $3 AND f.metric <> 'streams'"
        " GROUP BY 1 ORDER BY 1", org_id, since, until)
    return [msgspec.convert({**dict(row), "currency": row["currency"].strip()}, CurrencyTotals) for row in rows]


async def tracks_streams_total(q: Queries, org_id: uuid.UUID, since: date, until: date) -> int:
    """All of the organization's tracks' streams from ``since`` to ``until``."""
    value = await q.fetchval("SELECT coalesce(sum(streams), 0)::bigint FROM track_day_streams"
                             " WHERE organization_id = $1 AND day BETWEEN $2 AND $3", org_id, since, until)
    assert isinstance(value, int)
    return value


async def popularity_history(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, since: date,
                             until: date) -> list[PopularityDay]:
    rows = await q.fetch("SELECT day, popularity, artist_followers FROM track_figures WHERE organization_id = $1"
                         " AND track_id = $2 AND day BETWEEN $3 AND $4 ORDER BY day", org_id, track_id, since, until)
    return [PopularityDay(**dict(row)) for row in rows]  # camelCase out, so not as_struct


async def track_campaigns(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID) -> list[TrackCampaign]:
    rows = await q.fetch("SELECT id, name, status, start_date, end_date FROM campaigns WHERE organization_id = $1"
                         " AND track_id = $2 ORDER BY start_date, id", org_id, track_id)
    return [as_struct(row, TrackCampaign) for row in rows]


async def artist_days(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, since: date,
                      until: date) -> list[ArtistDay]:
    """The audience timeline of the track's artist (matched by name, whatever its case) from ``since`` to
    ``until``."""
    rows = await q.fetch(
        "SELECT a.day, a.listeners, a.streams, a.followers FROM tracks t JOIN artist_report_days a"
        " ON a.organization_id = t.organization_id AND lower(a.artist) = lower(t.artist)"
        " WHERE t.organization_id = $1 AND t.id = $2 AND a.day BETWEEN $3 AND $4 ORDER BY a.day",
        org_id, track_id, since, until)
    return [as_struct(row, ArtistDay) for row in rows]


async def report_totals(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID) -> ReportTotals | None:
    """The track's row of the latest Spotify for Artists songs table imported."""
    row = await q.fetchrow("SELECT listeners, streams, saves, release_date, updated_at FROM track_report_totals"
                           " WHERE organization_id = $1 AND track_id = $2", org_id, track_id)
    return maybe_struct(row, ReportTotals)


async def monthly_sales(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID) -> list[MonthlySales]:
    """Distributor sales of the track per month and store, oldest month first."""
    rows = await q.fetch(
        "SELECT sale_month AS month, store, sum(quantity)::bigint AS quantity, sum(earnings_usd)::text"
        " AS earnings_usd FROM distributor_sales WHERE organization_id = $1 AND track_id = $2"
        " GROUP BY 1, 2 ORDER BY 1, 2", org_id, track_id)
    return [MonthlySales(**dict(row)) for row in rows]


async def track_listeners(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, since: datetime,
                          until: datetime) -> ListenerCounts:
    """Fans opted in to any campaign of the track, and their plays of it in [since, until) after their
    opt-in (a fan in two campaigns counts once, each play once)."""
    row = await q.fetchrow(
        "WITH fans AS (SELECT cl.listener_id, min(cl.opted_in_at) AS opted_in_at FROM campaign_listeners cl"
        " JOIN campaigns c ON c.id = cl.campaign_id WHERE c.organization_id = $1 AND c.track_id = $2"
        " GROUP BY cl.listener_id)"
        " SELECT (SELECT count(*) FROM fans) AS opted_in, count(DISTINCT p.listener_id) AS matched,"
        " count(p.played_at) AS plays FROM fans f JOIN tracks t ON t.id = $2"
        " JOIN listener_plays p ON p.listener_id = f.listener_id AND p.spotify_track_id = t.spotify_id"
        " AND p.played_at >= f.opted_in_at AND p.played_at >= $3 AND p.played_at < $4",
        org_id, track_id, since, until)
    assert row is not None
    return as_struct(row, ListenerCounts)


async def campaigns_running_on(q: Queries, day: date) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Organization → its launched campaigns whose dates, as UTC days, contain ``day`` (every
    organization: the daily report's work list)."""
    rows = await q.fetch(
        "SELECT organization_id, id FROM campaigns WHERE status IN ('active', 'paused', 'completed')"
        " AND $1 BETWEEN (start_date AT TIME ZONE 'UTC')::date AND (end_date AT TIME ZONE 'UTC')::date"
        " ORDER BY organization_id, start_date, id", day)
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row["organization_id"], []).append(row["id"])
    return found
