"""A track's analytics: its streams per UTC day and where they came from, its listeners, Spotify's
popularity history, its artist's audience timeline, the campaigns that promoted it (each with its
attribution), and distributor sales.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from engine.analytics.campaign import AnalyticsRules, campaign_analytics
from engine.analytics.model import Confidence, Period
from engine.store import analytics as store
from engine.store.rows import Queries

__all__ = ["TrackAnalytics", "track_analytics"]


class StreamsByDay(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    total: int
    daily: list[store.StreamDay]


class S4aTotals(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The track's row of the latest Spotify for Artists songs table imported (its own window)."""

    listeners: int | None
    streams: int
    saves: int | None
    release_date: date | None
    imported_at: datetime


class Listeners(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    opted_in: int  # fans who connected through a link of one of the track's campaigns
    played: int  # of them, those who played the track in the period after connecting
    plays: int
    spotify_for_artists: S4aTotals | None


class CampaignOfTrack(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    name: str
    status: str
    start_date: datetime
    end_date: datetime
    streams_during: int
    incremental_streams: int | None
    confidence: Confidence


class TrackAnalytics(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    track_id: uuid.UUID
    period: Period
    streams: StreamsByDay
    listeners: Listeners
    popularity: list[store.PopularityDay]
    artist_audience: list[store.ArtistDay]  # the artist's imported audience timeline (listeners, followers)
    campaigns: list[CampaignOfTrack]
    distributor_sales: list[store.MonthlySales]


async def track_analytics(q: Queries, org_id: uuid.UUID, track_id: uuid.UUID, period: Period, *,
                          rules: AnalyticsRules, now: datetime) -> TrackAnalytics:
    """The caller checks the track is the organization's."""
    days = await store.stream_days(q, org_id, track_id, period.start, period.end)
    since = datetime.combine(period.start, time(), UTC)
    until = min(now, datetime.combine(period.end + timedelta(days=1), time(), UTC))
    fans = await store.track_listeners(q, org_id, track_id, since, until)
    s4a = await store.report_totals(q, org_id, track_id)
    campaigns = []
    for linked in await store.track_campaigns(q, org_id, track_id):
        analytics = await campaign_analytics(q, org_id, linked.id, start=None, end=None, granularity="day",
                                             rules=rules, now=now)
        if analytics is None:  # deleted meanwhile
            continue
        a = analytics.attribution
        campaigns.append(CampaignOfTrack(id=linked.id, name=linked.name, status=linked.status,
                                         start_date=linked.start_date, end_date=linked.end_date,
                                         streams_during=a.streams_during, incremental_streams=a.incremental_streams,
                                         confidence=a.confidence))
    return TrackAnalytics(
        track_id=track_id, period=period, streams=StreamsByDay(total=sum(d.streams for d in days), daily=days),
        listeners=Listeners(opted_in=fans.opted_in, played=fans.matched, plays=fans.plays, spotify_for_artists=None
                            if s4a is None else S4aTotals(listeners=s4a.listeners, streams=s4a.streams,
                                                          saves=s4a.saves, release_date=s4a.release_date,
                                                          imported_at=s4a.updated_at)),
        popularity=await store.popularity_history(q, org_id, track_id, period.start, period.end),
        artist_audience=await store.artist_days(q, org_id, track_id, period.start, period.end),
        campaigns=campaigns, distributor_sales=await store.monthly_sales(q, org_id, track_id),
    )  # fmt: skip
