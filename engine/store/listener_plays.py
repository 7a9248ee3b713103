"""SQL for opted-in listeners' plays (``listener_plays``), their poll cursor, and the daily counts the
listener actors turn into ``streams`` samples.

A play is keyed by (listener, played_at), so recording an overlapping poll again inserts nothing twice.
A play counts for a campaign when it is of the campaign's track (``campaigns.track_id`` →
``tracks.spotify_id``) and at or after the listener's ``opted_in_at`` for that campaign; days are UTC
days, as Spotify for Artists counts them. It does not call Spotify and holds no tokens (``listeners``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import msgspec

from engine.store._rows import Queries, as_struct, maybe_struct
from engine.store.catalog_common import atomic

__all__ = [
    "DailyCount", "ListenerRef", "Play", "PollState", "daily_counts", "listeners_to_poll", "park_polls",
    "poll_state", "record_plays", "to_ms",
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


class DailyCount(msgspec.Struct, frozen=True, kw_only=True):
    """One listener's plays of one campaign's track on one UTC day (after opting in to that campaign)."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    day: date
    plays: int


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
                       polled_at: datetime) -> list[DailyCount]:
    """Store ``plays`` (those already stored are skipped), move the cursor forward to ``cursor_ms`` (never
    back), note the poll.

    Returns the whole-day counts of every (campaign, UTC day) that a newly stored play changed, in one
    transaction with the insert, so the counts include every play stored before them.
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
        return await _counts(conn, listener_id, [row["played_at"] for row in new])


async def daily_counts(q: Queries, listener_id: uuid.UUID, days: Iterable[date]) -> list[DailyCount]:
    """The listener's counts for every campaign it is on and each of ``days`` that has a counted play."""
    rows = await q.fetch(
        f"{_COUNTS} WHERE cl.listener_id = $1 AND (p.played_at AT TIME ZONE 'UTC')::date = ANY($2::date[])"
        " GROUP BY c.organization_id, c.id, 3 ORDER BY 3, c.id", listener_id, list(days))
    return [as_struct(row, DailyCount) for row in rows]


async def park_polls(q: Queries, listener_id: uuid.UUID, until: datetime | None) -> None:
    """Remember (or clear, with ``None``) a long rate-limit block, so a restart does not call before it."""
    await q.execute("UPDATE listener_accounts SET polls_parked_until = $2 WHERE id = $1", listener_id, until)


_COUNTS = (
    "SELECT c.organization_id, c.id AS campaign_id, (p.played_at AT TIME ZONE 'UTC')::date AS day,"
    " count(*) AS plays FROM campaign_listeners cl JOIN campaigns c ON c.id = cl.campaign_id"
    " JOIN tracks t ON t.id = c.track_id JOIN listener_plays p ON p.listener_id = cl.listener_id"
    " AND p.spotify_track_id = t.spotify_id AND p.played_at >= cl.opted_in_at"
)


async def _counts(q: Queries, listener_id: uuid.UUID, new: list[datetime]) -> list[DailyCount]:
    """Counts of the (campaign, day) pairs with at least one play among ``new``."""
    rows = await q.fetch(
        f"{_COUNTS} WHERE cl.listener_id = $1 AND (p.played_at AT TIME ZONE 'UTC')::date IN"
        " (SELECT DISTINCT (n AT TIME ZONE 'UTC')::date FROM unnest($2::timestamptz[]) AS n)"
        " GROUP BY c.organization_id, c.id, 3 HAVING count(*) FILTER (WHERE p.played_at = ANY($2::timestamptz[])) > 0"
        " ORDER BY 3, c.id", listener_id, new)
    return [as_struct(row, DailyCount) for row in rows]
