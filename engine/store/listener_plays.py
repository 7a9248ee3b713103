"""SQL for opted-in listeners' plays (``listener_plays``), their poll cursor, and which new plays count for
a campaign (the listener actors turn those into stream events).

A play is keyed by (listener, played_at), so recording an overlapping poll again inserts nothing twice.
A play counts for a campaign when it is of the campaign's track (``campaigns.track_id`` →
``tracks.spotify_id``) and at or after the listener's ``opted_in_at`` for that campaign. The plays stay
here for listener-level attribution; the counting is done on stream events. It does not call Spotify and
holds no tokens (``listeners``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from engine.store.catalog_common import atomic
from engine.store.rows import Queries, as_struct, maybe_struct

__all__ = [
    "CountedPlay", "ListenerRef", "Play", "PollState", "listeners_to_poll", "park_polls", "poll_state",
    "record_plays", "to_ms",
]  # fmt: skip


class ListenerRef(msgspec.Struct, frozen=True, kw_only=True):
    """A listener account an actor should poll: connected and opted in to at least one campaign."""

    id: uuid.UUID
    organization_id: uuid.UUID
    spotify_user_id: str


class PollState(msgspec.Struct, frozen=True, kw_only=True):
    """What a listener's actor resumes from. ``first_opt_in`` is the earliest ``opted_in_at`` over its
    campaigns (``None``: on no campaign any more); ``plays_cursor_ms`` the newest play stored."""

    organization_id: uuid.UUID
    status: str
    plays_cursor_ms: int | None
    first_opt_in: datetime | None
    last_polled_at: datetime | None
    polls_parked_until: datetime | None


class Play(msgspec.Struct, frozen=True, kw_only=True):
    played_at: datetime  # timezone-aware
    spotify_track_id: str
    context_uri: str | None = None


class CountedPlay(msgspec.Struct, frozen=True, kw_only=True):
    """A play that counts for at least one of the listener's campaigns; ``track_id`` is our track."""

    played_at: datetime
    track_id: uuid.UUID


def to_ms(moment: datetime) -> int:
    """Unix milliseconds, as Spotify's cursors are."""
    return round(moment.timestamp() * 1000)


async def listeners_to_poll(q: Queries) -> list[ListenerRef]:
    """Every connected listener account on at least one campaign, oldest first."""
    rows = await q.fetch(
        "SELECT a.id, a.organization_id, a.spotify_user_id FROM listener_accounts a WHERE a.status = 'connected'"
        " AND EXISTS (SELECT 1 FROM campaign_listeners cl WHERE cl.listener_id = a.id) ORDER BY a.created_at, a.id")
    return [as_struct(row, ListenerRef) for row in rows]


async def poll_state(q: Queries, listener_id: uuid.UUID) -> PollState | None:
    """The listener's cursor, status and park, or ``None`` if the account is gone."""
    row = await q.fetchrow(
        "SELECT a.organization_id, a.status, a.plays_cursor_ms, a.last_polled_at, a.polls_parked_until,"
        " (SELECT min(opted_in_at) FROM campaign_listeners WHERE listener_id = a.id) AS first_opt_in"
        " FROM listener_accounts a WHERE a.id = $1", listener_id)
    return maybe_struct(row, PollState)


async def record_plays(q: Queries, listener_id: uuid.UUID, plays: Sequence[Play], *, cursor_ms: int | None,
                       polled_at: datetime) -> list[CountedPlay]:
    """Store ``plays`` (those already stored are skipped), move the cursor forward to ``cursor_ms`` (never
    back), note the poll.

    Returns the newly stored plays that count for a campaign, by time, each once (even when several
    campaigns count it). Runs in ``q``'s transaction when ``q`` is a connection, so the caller can store
    what it derives from them in the same one.
    """
    async with atomic(q) as conn:
        new = await conn.fetch(
            "INSERT INTO listener_plays (listener_id, played_at, spotify_track_id, context_uri)"
            " SELECT $1, p.at, p.track, p.context FROM unnest($2::timestamptz[], $3::text[], $4::text[])"
            " AS p(at, track, context) ON CONFLICT DO NOTHING RETURNING played_at",
            listener_id, [p.played_at for p in plays], [p.spotify_track_id for p in plays],
            [p.context_uri for p in plays])
        await conn.execute(
            "UPDATE listener_accounts SET plays_cursor_ms = GREATEST(plays_cursor_ms, $2::bigint),"
            " last_polled_at = $3 WHERE id = $1", listener_id, cursor_ms, polled_at)
        if not new:
            return []
        # Two of our tracks with one Spotify id would make one play two; the lowest track id keeps it.
        rows = await conn.fetch(
            "SELECT DISTINCT ON (p.played_at) p.played_at, t.id AS track_id FROM campaign_listeners cl"
            " JOIN campaigns c ON c.id = cl.campaign_id JOIN tracks t ON t.id = c.track_id"
            " JOIN listener_plays p ON p.listener_id = cl.listener_id AND p.spotify_track_id = t.spotify_id"
            " AND p.played_at >= cl.opted_in_at"
            " WHERE cl.listener_id = $1 AND p.played_at = ANY($2::timestamptz[]) ORDER BY p.played_at, t.id",
            listener_id, [row["played_at"] for row in new])
        return [as_struct(row, CountedPlay) for row in rows]


async def park_polls(q: Queries, listener_id: uuid.UUID, until: datetime | None) -> None:
    """Remember (or clear, with ``None``) a long rate-limit block, so a restart does not call before it."""
    await q.execute("UPDATE listener_accounts SET polls_parked_until = $2 WHERE id = $1", listener_id, until)
