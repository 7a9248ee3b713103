"""Campaigns: what an organization spends to promote a track, with its goals and running totals.

Every function takes the organization's id and filters on it in SQL: another organization's campaign is
not found, and its tracks cannot be attached. Status changes go only through ``set_campaign_status``, an
atomic compare-and-set; which transitions are legal is the caller's business (it passes ``expected_from``).
The running totals (``budgetSpent``, ``metrics``) are the aggregator's to write, not ours.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence

import asyncpg
import msgspec

from engine.guardrail import Guardrail, PauseCause, PausedReason
from engine.store import campaign_events
from engine.store.campaign_model import (
    Campaign,
    CampaignMetaRefusal,
    CampaignMetaSync,
    CampaignMetrics,
    Goal,
    NewCampaign,
    TrackSummary,
)
from engine.store.catalog_common import (
    Conflict,
    Executor,
    NotFound,
    Page,
    Where,
    atomic,
    check_window,
    decode_object,
    encode_json,
    like_pattern,
    money,
    page,
    raise_conflict_on,
    raise_not_found_on,
    set_clause,
    to_decimal,
)

__all__ = [
    "CAMPAIGN_SELECT",
    "SORT_KEYS",
    "UPDATABLE_FIELDS",
    "Campaign",
    "CampaignMetrics",
    "Goal",
    "IllegalTransition",
    "NewCampaign",
    "TrackSummary",
    "campaign_from_row",
    "create_campaign",
    "delete_campaign",
    "get_campaign",
    "list_campaigns",
    "set_campaign_status",
    "statuses_of",
    "update_campaign",
]


class IllegalTransition(Conflict):
    """The campaign's ``current`` status is not one the transition may start from."""

    def __init__(self, current: str) -> None:
        super().__init__("status", f"not allowed from status {current!r}")
        self.current = current


# The whitelists of what update_campaign may set (field name -> column, the same here) and of the sort
# keys (the API's names -> column).
_COLUMNS = {
    name: name
    for name in ("name", "description", "objective", "track_id", "budget", "currency", "start_date",
                 "end_date", "target_audience", "creative_assets", "guardrail_enabled", "guardrail_percent")
}  # fmt: skip
UPDATABLE_FIELDS = frozenset(_COLUMNS)
_SORTS = {
    "createdAt": "created_at", "updatedAt": "updated_at", "name": "name", "startDate": "start_date",
    "endDate": "end_date", "budget": "budget", "status": "status",
}  # fmt: skip
SORT_KEYS = frozenset(_SORTS)
_ORDERS = {"asc": "ASC", "desc": "DESC"}

# The campaign ``c`` with its track summary and goals; ``c`` may be the table or a CTE of its rows (format
# ``source``). Read its rows with ``campaign_from_row``.
CAMPAIGN_SELECT = """
SELECT c.*, t.id AS t_id, t.title AS t_title, t.artist AS t_artist,
       COALESCE((SELECT json_agg(json_build_object('metric', g.metric, 'target', g.target) ORDER BY g.metric)
                 FROM campaign_goals g WHERE g.campaign_id = c.id), '[]') AS goals
FROM {source} c LEFT JOIN tracks t ON t.id = c.track_id AND t.organization_id = c.organization_id
"""
# The track check is in the INSERT itself, so the check and the insert see the same tracks.
_INSERT = """
INSERT INTO campaigns (organization_id, track_id, name, description, objective, budget, currency,
                       start_date, end_date, target_audience, creative_assets, guardrail_enabled, guardrail_percent)
SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::text, $6::numeric, $7::text, $8::timestamptz,
       $9::timestamptz, $10::jsonb, $11::jsonb, $12::boolean, $13::smallint
WHERE $2::uuid IS NULL OR EXISTS (SELECT 1 FROM tracks WHERE organization_id = $1 AND id = $2)
RETURNING id
"""
# The compare-and-set: one UPDATE, so a concurrent transition makes us re-check its committed row.
# ``o`` is the row as it was, for the event's ``previousStatus``. ``paused_reason`` lives as long as the pause.
_SET_STATUS = """
WITH changed AS (
    UPDATE campaigns c
    SET status = $3::text, updated_at = now(),
        launched_at = CASE WHEN $3::text = 'active' THEN coalesce(c.launched_at, now()) ELSE c.launched_at END,
        paused_reason = CASE WHEN $3::text = 'paused' THEN $5::jsonb END
    FROM campaigns o
    WHERE o.id = c.id AND c.organization_id = $1 AND c.id = $2 AND c.status = ANY($4::text[])
    RETURNING c.*, o.status AS previous_status
)""" + CAMPAIGN_SELECT.format(source="changed")
_TRACK_FK, _TRACK_MISSING = "campaigns_track_id_fkey", "the organization has no such track"
_goals_decoder = msgspec.json.Decoder(list[Goal])
_reason_decoder = msgspec.json.Decoder(PausedReason)
_sync_error_decoder = msgspec.json.Decoder(CampaignMetaRefusal)
# After this many lost races between the compare-and-set and the status read we give up (see below).
_CAS_ATTEMPTS = 3


async def create_campaign(
    db: Executor, org_id: uuid.UUID, fields: NewCampaign, goals: Sequence[Goal] = ()
) -> Campaign:
    """Insert a draft campaign with its goals and return it; ``campaign.created`` is enqueued with it.

    Raises ``NotFound("trackId", ...)`` when ``track_id`` is not one of the organization's tracks and
    ``Conflict("goals", ...)`` for two goals on one metric.
    """
    async with atomic(db) as conn:
        with raise_not_found_on(_TRACK_FK, "trackId", _TRACK_MISSING):
            campaign_id = await conn.fetchval(
                _INSERT,
                org_id, fields.track_id, fields.name, fields.description, fields.objective,
                to_decimal(fields.budget), fields.currency, fields.start_date, fields.end_date,
                encode_json(fields.target_audience), encode_json(fields.creative_assets),
                fields.guardrail_enabled, fields.guardrail_percent,
            )  # fmt: skip
        if campaign_id is None:
            raise NotFound("trackId", _TRACK_MISSING)
        assert isinstance(campaign_id, uuid.UUID)
        await _insert_goals(conn, campaign_id, goals)
        campaign = await get_campaign(conn, org_id, campaign_id)
        assert campaign is not None  # we just inserted it, in this transaction
        await campaign_events.announce_created(conn, org_id, campaign)
    return campaign


async def get_campaign(db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign, or ``None`` when the organization has no such campaign."""
    sql = CAMPAIGN_SELECT.format(source="campaigns") + " WHERE c.organization_id = $1 AND c.id = $2"
    row = await db.fetchrow(sql, org_id, campaign_id)
    return None if row is None else campaign_from_row(row)


async def list_campaigns(
    db: Executor,
    org_id: uuid.UUID,
    *,
    status: str | None = None,
    search: str | None = None,
    sort: str = "createdAt",
    order: str = "desc",
    limit: int = 20,
    offset: int = 0,
) -> Page[Campaign]:
    """One page of the organization's campaigns, sorted by ``sort`` (a key of ``SORT_KEYS``) in ``order``
    (``asc`` or ``desc``), with ``id`` breaking ties in the same direction so pages never overlap.

    ``status`` keeps one status; ``search`` keeps names containing it, ignoring case, with ``%`` and
    ``_`` matching themselves. Only the page's rows are joined with their tracks and goals: the sort runs
    on the campaigns alone, through the ``(organization_id, created_at)`` index by default. Raises
    ``ValueError`` for an unknown ``sort`` or ``order`` or a negative ``limit`` or ``offset``.
    """
    if sort not in _SORTS or order not in _ORDERS:
        raise ValueError(f"cannot sort on {sort!r} {order!r}")
    check_window(limit, offset)
    where = Where(org_id)
    where.add("organization_id = $1")
    if status is not None:
        where.add(f"status = {where.param(status)}")
    if search:
        where.add(f"name ILIKE {where.param(like_pattern(search))} ESCAPE '\\'")
    total = _total(where, filtered=status is not None or bool(search))
    column, direction = _SORTS[sort], _ORDERS[order]
    window = f"LIMIT {where.param(limit)} OFFSET {where.param(offset)}"
    # One statement: the total rides along as a column, on a row of its own (nulls) when the page is empty.
    sql = (
        f"WITH page AS (SELECT * FROM campaigns WHERE {where.sql()}"
        f" ORDER BY {column} {direction}, id {direction} {window})"
        f" SELECT listed.*, n.total FROM (SELECT {total} AS total) n"
        " LEFT JOIN (" + CAMPAIGN_SELECT.format(source="page") + ") listed ON true"
        f" ORDER BY listed.{column} {direction}, listed.id {direction}"
    )
    rows = await db.fetch(sql, *where.args)
    campaigns = [campaign_from_row(row) for row in rows if row["id"] is not None]
    return page(campaigns, rows[0]["total"], limit, offset)


def _total(where: Where, *, filtered: bool) -> str:
    """The SQL of ``total``: the organization's maintained count (migration 0023) for the whole list, a
    count of the matching rows when a filter (status, search) narrows it."""
    if filtered:
        return f"(SELECT count(*) FROM campaigns WHERE {where.sql()})"
    return "coalesce((SELECT campaigns FROM campaign_counts WHERE organization_id = $1), 0)"


async def update_campaign(
    db: Executor,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    changes: Mapping[str, object],
    goals: Sequence[Goal] | None = None,
    cause: PauseCause | None = None,
) -> Campaign | None:
    """Set the fields in ``changes`` (keys from ``UPDATABLE_FIELDS``; not ``status``) and, when ``goals``
    is given, replace all the goals with it. Returns the campaign, or ``None`` when the organization has
    no such campaign. ``campaign.updated`` is enqueued with the fields that changed, if any did, and
    ``campaign.budget_changed`` with ``cause`` (who changed it) when the budget did.

    Raises ``ValueError`` for an unknown key, ``NotFound("trackId", ...)`` for a track that is not the
    organization's, and ``Conflict("goals", ...)`` for two goals on one metric. A change that breaks
    ``end_date > start_date`` raises asyncpg's ``CheckViolationError``.
    """
    values = {field: _encode(field, value) for field, value in changes.items()}
    assignments, args = set_clause(values, _COLUMNS, first_param=3)
    sql = f"UPDATE campaigns SET {assignments} WHERE organization_id = $1 AND id = $2"
    new_track = changes.get("track_id")
    if new_track is not None:
        sql += f" AND EXISTS (SELECT 1 FROM tracks WHERE organization_id = $1 AND id = ${len(args) + 3})"
        args.append(new_track)
    async with atomic(db) as conn:
        before = await get_campaign(conn, org_id, campaign_id)
        with raise_not_found_on(_TRACK_FK, "trackId", _TRACK_MISSING):
            updated = await conn.fetchval(sql + " RETURNING id", org_id, campaign_id, *args)
        if updated is None or before is None:
            if new_track is not None and await _exists(conn, org_id, campaign_id):
                raise NotFound("trackId", _TRACK_MISSING)
            return None
        if goals is not None:
            await conn.execute("DELETE FROM campaign_goals WHERE campaign_id = $1", campaign_id)
            await _insert_goals(conn, campaign_id, goals)
        after = await get_campaign(conn, org_id, campaign_id)
        assert after is not None  # the UPDATE above found it and holds its lock
        await campaign_events.announce_updated(conn, org_id, before, after)
        await campaign_events.announce_budget_changed(conn, org_id, before, after, cause)
        return after


async def set_campaign_status(
    db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, expected_from: Collection[str], to: str,
    announce: bool = True, reason: PausedReason | None = None,
) -> Campaign | None:
    """Move the campaign to status ``to`` if, and only if, its status is one of ``expected_from`` at that
    instant, and return it; ``launched_at`` is set the first time it becomes ``active``. Returns ``None``
    when the organization has no such campaign. The change's event (``campaign_events.announce_moved``)
    is enqueued with it unless ``announce`` is False (the caller sends its own). A move to ``paused``
    records ``reason`` as the campaign's ``pausedReason`` (and its cause in ``campaign.paused``); any other
    move clears it, and a move from paused to active announces ``campaign.resumed`` with ``reason``'s cause.

    Error handling: raises ``IllegalTransition`` (a ``Conflict``) carrying the ``current`` status when
    that status is not in ``expected_from``; nothing is changed then. Of two concurrent calls that both
    start from the same status, exactly one wins: the compare-and-set is one UPDATE, and the loser's
    re-check happens on the winner's committed row.
    """
    async with atomic(db) as conn:
        row = await _compare_and_set(conn, org_id, campaign_id, expected_from, to, reason)
        if row is None:
            return None
        campaign = campaign_from_row(row)
        if announce:
            cause = None if reason is None else reason.cause
            await campaign_events.announce_moved(conn, org_id, row["previous_status"], campaign, cause)
    return campaign


async def _compare_and_set(db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, expected_from: Collection[str],
                           to: str, reason: PausedReason | None) -> asyncpg.Record | None:
    current, recorded = "", None if reason is None else encode_json(reason)
    for _ in range(_CAS_ATTEMPTS):
        row = await db.fetchrow(_SET_STATUS, org_id, campaign_id, to, list(expected_from), recorded)
        if row is not None:
            return row
        found = await db.fetchval(
            "SELECT status FROM campaigns WHERE organization_id = $1 AND id = $2", org_id, campaign_id
        )
        if found is None:
            return None
        current = str(found)
        # Read after the UPDATE, so a status we may start from means another transition came and went in
        # between (or the row was created meanwhile); try again rather than report a stale refusal.
        if current not in expected_from:
            break
    raise IllegalTransition(current)


async def statuses_of(db: Executor, org_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each of the organization's campaigns among ``campaign_ids`` (others are left out)."""
    rows = await db.fetch("SELECT id, status FROM campaigns WHERE organization_id = $1 AND id = ANY($2::uuid[])",
                          org_id, list(campaign_ids))
    return {row["id"]: str(row["status"]) for row in rows}


async def delete_campaign(db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    """Delete the campaign and its goals; ``False`` when the organization has no such campaign."""
    status = await db.execute(
        "DELETE FROM campaigns WHERE organization_id = $1 AND id = $2", org_id, campaign_id
    )
    return status == "DELETE 1"


def campaign_from_row(row: asyncpg.Record) -> Campaign:
    """The campaign of a row that ``CAMPAIGN_SELECT`` read."""
    track = None
    if row["t_id"] is not None:
        track = TrackSummary(id=row["t_id"], title=row["t_title"], artist=row["t_artist"])
    return Campaign(
        id=row["id"], name=row["name"], description=row["description"], status=row["status"],
        objective=row["objective"], track_id=row["track_id"], track=track, budget=money(row["budget"]),
        currency=row["currency"], budget_spent=money(row["budget_spent"]), start_date=row["start_date"],
        end_date=row["end_date"], target_audience=decode_object(row["target_audience"]),
        creative_assets=decode_object(row["creative_assets"]), goals=_goals_decoder.decode(row["goals"]),
        metrics=CampaignMetrics(impressions=row["impressions"], clicks=row["clicks"], streams=row["streams"]),
        launched_at=row["launched_at"], created_at=row["created_at"], updated_at=row["updated_at"],
        meta_ad_account_id=row["meta_ad_account_id"], meta_campaign_id=row["meta_campaign_id"],
        meta_effective_status=row["meta_effective_status"],
        budget_guardrail=Guardrail(enabled=row["guardrail_enabled"], percent=row["guardrail_percent"]),
        paused_reason=None if row["paused_reason"] is None else _reason_decoder.decode(row["paused_reason"]),
        meta_sync=_meta_sync(row),
    )  # fmt: skip


def _meta_sync(row: asyncpg.Record) -> CampaignMetaSync | None:
    error = row["meta_sync_error"]
    if row["meta_synced_at"] is None and error is None:
        return None
    return CampaignMetaSync(budget_minor=row["meta_budget_minor"], currency=row["meta_budget_currency"],
                            synced_at=row["meta_synced_at"],
                            error=None if error is None else _sync_error_decoder.decode(error))


def _encode(field: str, value: object) -> object:
    if field in ("target_audience", "creative_assets"):
        return encode_json(value)
    return to_decimal(value) if field == "budget" else value


async def _insert_goals(db: Executor, campaign_id: uuid.UUID, goals: Sequence[Goal]) -> None:
    if not goals:
        return
    with raise_conflict_on("campaign_goals_pkey", "goals", "at most one goal per metric"):
        await db.execute(
            "INSERT INTO campaign_goals (campaign_id, metric, target)"
            " SELECT $1::uuid, metric, target FROM unnest($2::text[], $3::bigint[]) AS g (metric, target)",
            campaign_id, [goal.metric for goal in goals], [goal.target for goal in goals],
        )  # fmt: skip


async def _exists(db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    sql = "SELECT EXISTS (SELECT 1 FROM campaigns WHERE organization_id = $1 AND id = $2)"
    return await db.fetchval(sql, org_id, campaign_id) is True
