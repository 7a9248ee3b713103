"""SQL for fans' consent records (``listener_consents``): written when a fan opts in through a listen link,
and revoked through the link the opt-in page gave them, which erases the fan's plays.

It owns what a revocation removes: the listener (their tokens, campaigns and plays go with the row), the
stream events their plays became, those events' share of the live and daily rollups, and so of the
campaigns' figures, which are recomputed in the same transaction. The consent row stays, revoked, as the
record of both. Whether a revoke link is genuine is the caller's (``engine.consent_links``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import msgspec

from engine.store.database import Connection, Database
from engine.store.facts import recompute_totals
from engine.store.listener_plays import to_ms
from engine.store.listeners import LISTENERS_CHANNEL
from engine.store.rows import Queries, fetch_one, maybe_struct

__all__ = ["AlreadyRevoked", "Consent", "Revoked", "get_consent", "record_consent", "revoke_consent"]

# How the listener actors ingest a play (actors/spotify_listener.py): no country is asked of fans.
_PLATFORM, _COUNTRY = "spotify", "ZZ"
_FACT_SOURCE = "stream_events"  # the stream counter's facts (actors/stream_counter.py SOURCE)


class Consent(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    campaign_name: str | None
    granted_at: datetime
    revoked_at: datetime | None


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    plays_erased: int


class AlreadyRevoked(msgspec.Struct, frozen=True, kw_only=True):
    revoked_at: datetime


async def record_consent(q: Queries, *, org_id: uuid.UUID, campaign_id: uuid.UUID, listener_id: uuid.UUID,
                         spotify_user_id: str, scopes: Sequence[str], ip: str | None,
                         user_agent: str | None) -> uuid.UUID:
    """A new consent record of this opt-in (the campaign's current link token with it); returns its id."""
    row = await fetch_one(
        q, "INSERT INTO listener_consents (organization_id, campaign_id, listener_id, link_token, spotify_user_id,"
           " scopes, ip, user_agent) VALUES ($1, $2, $3, (SELECT token FROM campaign_listen_links"
           " WHERE campaign_id = $2), $4, $5, $6, $7) RETURNING id",
        org_id, campaign_id, listener_id, spotify_user_id, list(scopes), ip, user_agent)
    consent_id = row["id"]
    assert isinstance(consent_id, uuid.UUID)
    return consent_id


async def get_consent(q: Queries, consent_id: uuid.UUID) -> Consent | None:
    row = await q.fetchrow(
        "SELECT k.id, k.organization_id, c.name AS campaign_name, k.granted_at, k.revoked_at"
        " FROM listener_consents k LEFT JOIN campaigns c ON c.id = k.campaign_id WHERE k.id = $1", consent_id)
    return maybe_struct(row, Consent)


async def revoke_consent(db: Database, consent_id: uuid.UUID, *, ip: str | None,
                         user_agent: str | None) -> Revoked | AlreadyRevoked | None:
    """Revoke the consent, erasing the fan's plays; None for an unknown consent.

    The listener is per organization and Spotify account, so every consent of theirs is revoked with it
    (each names the same connection). ``plays_erased`` counts the stored plays that went.
    """
    async with db.transaction() as tx:
        row = await tx.fetchrow("SELECT organization_id, listener_id, revoked_at FROM listener_consents"
                                " WHERE id = $1 FOR UPDATE", consent_id)
        if row is None:
            return None
        if row["revoked_at"] is not None:
            return AlreadyRevoked(revoked_at=row["revoked_at"])
        listener_id = row["listener_id"]
        erased = 0 if listener_id is None else await _erase_listener(tx, row["organization_id"], listener_id)
        await tx.execute(
            "UPDATE listener_consents SET revoked_at = now(), revoked_ip = $3, revoked_user_agent = $4,"
            " plays_erased = $5, listener_id = NULL"
            " WHERE revoked_at IS NULL AND (id = $1 OR listener_id = $2)",
            consent_id, listener_id, ip, user_agent, erased)
    return Revoked(plays_erased=erased)


async def _erase_listener(tx: Connection, org_id: uuid.UUID, listener_id: uuid.UUID) -> int:
    """Delete the listener with their plays, and take the plays out of every figure; returns how many plays."""
    counted = await tx.fetch(
        # The plays that counted, as listener_plays.record_plays chose them: one track per play.
        "SELECT DISTINCT ON (p.played_at) p.played_at, t.id AS track_id FROM campaign_listeners cl"
        " JOIN campaigns c ON c.id = cl.campaign_id JOIN tracks t ON t.id = c.track_id"
        " JOIN listener_plays p ON p.listener_id = cl.listener_id AND p.spotify_track_id = t.spotify_id"
        " AND p.played_at >= cl.opted_in_at WHERE cl.listener_id = $1 ORDER BY p.played_at, t.id", listener_id)
    plays = await tx.fetchval("SELECT count(*) FROM listener_plays WHERE listener_id = $1", listener_id)
    await _uncount(tx, org_id, listener_id, [(r["track_id"], r["played_at"]) for r in counted])
    await tx.execute("DELETE FROM listener_accounts WHERE id = $1", listener_id)
    await tx.execute("SELECT pg_notify($1, $2)", LISTENERS_CHANNEL, str(listener_id))  # its actor stops
    assert isinstance(plays, int)
    return plays


async def _uncount(tx: Connection, org_id: uuid.UUID, listener_id: uuid.UUID,
                   counted: list[tuple[uuid.UUID, datetime]]) -> None:
    """Remove the counted plays' stream events and their share of the rollups and campaigns' figures. An
    event already pruned (after 8 days) still counts in ``stream_days``, so the days come from the plays."""
    if not counted:
        return
    ids = [f"listener:{listener_id}:{to_ms(at)}" for _, at in counted]
    await tx.execute(_UNBUCKET, org_id, ids)
    tracks, days = [t for t, _ in counted], [at.date() for _, at in counted]
    await tx.execute(_UNDAY, tracks, days, _COUNTRY, _PLATFORM)
    campaign_ids = await _refresh_facts(tx, org_id, tracks, days)
    await recompute_totals(tx, campaign_ids)


# The events go, and each bucket loses what they added (a bucket they alone made goes too).
_UNBUCKET = """
WITH gone AS (
    DELETE FROM stream_events WHERE organization_id = $1 AND event_id = ANY($2::text[])
    RETURNING track_id, date_bin('5 minutes', occurred_at, TIMESTAMPTZ 'epoch') AS bucket, country
), n AS (SELECT track_id, bucket, country, count(*) AS n FROM gone GROUP BY 1, 2, 3),
dropped AS (
    DELETE FROM stream_buckets b USING n
    WHERE b.track_id = n.track_id AND b.bucket_start = n.bucket AND b.country = n.country AND b.streams <= n.n
)
UPDATE stream_buckets b SET streams = b.streams - n.n FROM n
WHERE b.track_id = n.track_id AND b.bucket_start = n.bucket AND b.country = n.country AND b.streams > n.n
"""

_UNDAY = """
WITH n AS (SELECT track, day, count(*) AS n FROM unnest($1::uuid[], $2::date[]) AS v(track, day) GROUP BY 1, 2),
dropped AS (
    DELETE FROM stream_days d USING n WHERE d.track_id = n.track AND d.day = n.day AND d.country = $3
    AND d.platform = $4 AND d.streams <= n.n
)
UPDATE stream_days d SET streams = d.streams - n.n, updated_at = clock_timestamp() FROM n
WHERE d.track_id = n.track AND d.day = n.day AND d.country = $3 AND d.platform = $4 AND d.streams > n.n
"""


async def _refresh_facts(tx: Connection, org_id: uuid.UUID, tracks: list[uuid.UUID],
                         days: list[date]) -> list[uuid.UUID]:
    """Set the stream counter's facts of these (track, day) pairs to the days' figures now, as it would on
    its next pass (it could not see a day whose last row went); returns the campaigns changed."""
    rows = await tx.fetch(
        "UPDATE campaign_daily_facts f SET value = coalesce((SELECT v.streams FROM track_day_streams v"
        " WHERE v.track_id = c.track_id AND v.day = f.day), 0), updated_at = now()"
        " FROM campaigns c, unnest($2::uuid[], $3::date[]) AS p(track, day)"
        " WHERE c.organization_id = $1 AND c.track_id = p.track AND f.campaign_id = c.id AND f.day = p.day"
        " AND f.metric = 'streams' AND f.source = $4 RETURNING f.campaign_id",
        org_id, tracks, days, _FACT_SOURCE)
    return [r["campaign_id"] for r in rows]
