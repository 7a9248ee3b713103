"""Our campaigns' links to Meta campaigns: making and dropping a link, finding campaigns by their Meta
campaign, and the linked campaigns the pollers and sync runs read.

Every function takes the organization's id and filters on it in SQL. The link columns are migration
0005's; one of an organization's campaigns per Meta campaign (``campaigns_meta_campaign_key``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from engine.store.campaign_model import CampaignMetaRefusal
from engine.store.campaigns import CAMPAIGN_SELECT, Campaign, campaign_from_row, get_campaign
from engine.store.catalog_common import Conflict, Executor, atomic, raise_conflict_on
from engine.store.outbox import enqueue_event
from engine.store.rows import as_struct

__all__ = [
    "SYNC_FAILED", "AdAccountInfo", "MetaLink", "MetaPollTarget", "ad_account_currency",
    "campaigns_targeting_audience", "get_campaign_by_meta", "link_meta", "linked_campaigns", "meta_links",
    "meta_poll_targets", "record_ad_accounts", "record_meta_sync", "set_meta_effective_status", "unlink_meta",
]  # fmt: skip

_META_KEY = "campaigns_meta_campaign_key"
SYNC_FAILED = "campaign.meta_sync_failed"  # the event of a refused push (``record_meta_sync``)
# A link starts and ends with nothing pushed: the previous Meta campaign's budget is not the new one's.
_NO_SYNC = "meta_budget_minor = NULL, meta_budget_currency = NULL, meta_synced_at = NULL, meta_sync_error = NULL"


async def link_meta(
    db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, ad_account_id: str, meta_campaign_id: str,
    effective_status: str | None,
) -> Campaign | None:
    """Link the campaign to the Meta campaign ``meta_campaign_id`` of ``ad_account_id`` and return it;
    ``None`` when the organization has no such campaign.

    Error handling: raises ``Conflict("campaignId", ...)`` when the campaign is already linked (one UPDATE
    that only matches an unlinked row, so of two concurrent links exactly one wins) and
    ``Conflict("metaCampaignId", ...)`` when another of the organization's campaigns has that Meta campaign.
    """
    sql = (
        "WITH changed AS (UPDATE campaigns SET meta_ad_account_id = $3, meta_campaign_id = $4,"
        f" meta_effective_status = $5, {_NO_SYNC}, updated_at = now()"
        " WHERE organization_id = $1 AND id = $2 AND meta_campaign_id IS NULL RETURNING *)"
        + CAMPAIGN_SELECT.format(source="changed")
    )
    with raise_conflict_on(_META_KEY, "metaCampaignId", "another campaign is linked to this Meta campaign"):
        row = await db.fetchrow(sql, org_id, campaign_id, ad_account_id, meta_campaign_id, effective_status)
    if row is not None:
        return campaign_from_row(row)
    current = await get_campaign(db, org_id, campaign_id)
    if current is None:
        return None
    raise Conflict("campaignId", f"already linked to Meta campaign {current.meta_campaign_id}")


async def unlink_meta(db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    """Forget the campaign's Meta link (its facts stay); ``False`` when the organization has no such
    campaign."""
    status = await db.execute(
        "UPDATE campaigns SET meta_ad_account_id = NULL, meta_campaign_id = NULL, meta_effective_status = NULL,"
        f" {_NO_SYNC}, updated_at = now() WHERE organization_id = $1 AND id = $2", org_id, campaign_id)
    return status == "UPDATE 1"


async def get_campaign_by_meta(db: Executor, org_id: uuid.UUID, meta_campaign_id: str) -> Campaign | None:
    """The organization's campaign linked to the Meta campaign ``meta_campaign_id``, or ``None``."""
    sql = CAMPAIGN_SELECT.format(source="campaigns") + " WHERE c.organization_id = $1 AND c.meta_campaign_id = $2"
    row = await db.fetchrow(sql, org_id, meta_campaign_id)
    return None if row is None else campaign_from_row(row)


async def meta_links(db: Executor, org_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Every linked campaign of the organization: Meta campaign id → our campaign id."""
    rows = await db.fetch(
        "SELECT meta_campaign_id, id FROM campaigns WHERE organization_id = $1 AND meta_campaign_id IS NOT NULL",
        org_id,
    )
    return {str(row["meta_campaign_id"]): row["id"] for row in rows}


class MetaPollTarget(msgspec.Struct, frozen=True, kw_only=True):
    """A linked campaign whose Meta figures are still worth polling (``meta_poll_targets``)."""

    campaign_id: uuid.UUID
    status: str
    meta_ad_account_id: str
    meta_campaign_id: str
    meta_effective_status: str | None = None  # Meta's status as we last recorded it


async def meta_poll_targets(db: Executor, org_id: uuid.UUID, *, ended_after: datetime) -> list[MetaPollTarget]:
    """The organization's campaigns linked to Meta that are active or paused, or that ended (completed or
    archived) after ``ended_after`` (the start of Meta's restatement window), ordered by ad account."""
    rows = await db.fetch(
        "SELECT id, status, meta_ad_account_id, meta_campaign_id, meta_effective_status FROM campaigns"
        " WHERE organization_id = $1 AND meta_campaign_id IS NOT NULL AND meta_ad_account_id IS NOT NULL"
        " AND (status IN ('active', 'paused') OR (status IN ('completed', 'archived') AND end_date > $2))"
        " ORDER BY meta_ad_account_id, meta_campaign_id",
        org_id, ended_after,
    )  # fmt: skip
    return [
        MetaPollTarget(campaign_id=row["id"], status=row["status"], meta_ad_account_id=row["meta_ad_account_id"],
                       meta_campaign_id=row["meta_campaign_id"], meta_effective_status=row["meta_effective_status"])
        for row in rows
    ]  # fmt: skip


# One statement, so a status that did not change costs no write: ``linked`` is the row as it was, and
# ``latest`` is the changed row when there is one, else that.
_SET_STATUS = (
    "WITH linked AS (SELECT * FROM campaigns WHERE organization_id = $1 AND meta_campaign_id = $2),"
    " changed AS (UPDATE campaigns c SET meta_effective_status = $3 FROM linked WHERE c.id = linked.id"
    " AND $3::text IS NOT NULL AND c.meta_effective_status IS DISTINCT FROM $3::text RETURNING c.*),"
    " latest AS (SELECT * FROM changed UNION ALL SELECT * FROM linked WHERE NOT EXISTS (SELECT 1 FROM changed))"
    + CAMPAIGN_SELECT.format(source="latest")
)


async def set_meta_effective_status(
    db: Executor, org_id: uuid.UUID, meta_campaign_id: str, effective_status: str | None
) -> Campaign | None:
    """Record the Meta campaign's ``effective_status`` on the campaign linked to it and return that campaign
    as it now is; ``None`` when none of the organization's campaigns is linked to ``meta_campaign_id``.

    The one writer of a linked campaign's Meta status (``link_meta`` sets the first, ``unlink_meta`` clears
    it); the poller, the Meta sync run, the Meta PATCH route and a launch or pause pushed to Meta all call
    it. The lifecycle rule: the status is what we last set on Meta or read from it. ``None`` means Meta did
    not say (the campaign was not listed, or came without the field) and keeps what we knew: we do not guess
    deleted or archived. A status equal to the stored one writes nothing. It touches neither ``updated_at``
    nor the webhook outbox: Meta's state is not an edit of our campaign (``campaign.updated`` reports only
    what a member edits). It runs in ``db``'s transaction when that is one.
    """
    row = await db.fetchrow(_SET_STATUS, org_id, meta_campaign_id, effective_status)
    return None if row is None else campaign_from_row(row)


class MetaLink(msgspec.Struct, frozen=True, kw_only=True):
    campaign_id: uuid.UUID
    meta_ad_account_id: str
    meta_campaign_id: str


async def linked_campaigns(q: Executor, org_id: uuid.UUID) -> list[MetaLink]:
    """The organization's campaigns linked to a Meta campaign, grouped by ad account."""
    rows = await q.fetch("SELECT id AS campaign_id, meta_ad_account_id, meta_campaign_id FROM campaigns"
                         " WHERE organization_id = $1 AND meta_campaign_id IS NOT NULL"
                         " ORDER BY meta_ad_account_id, created_at, id", org_id)
    return [as_struct(row, MetaLink) for row in rows]


async def campaigns_targeting_audience(q: Executor, org_id: uuid.UUID, audience_id: uuid.UUID) -> list[MetaLink]:
    """The organization's campaigns linked to a Meta campaign whose ``targetAudience.audienceId`` is
    ``audience_id``, oldest first. Unlinked ones are left out: Meta has no numbers for them."""
    rows = await q.fetch("SELECT id AS campaign_id, meta_ad_account_id, meta_campaign_id FROM campaigns"
                         " WHERE organization_id = $1 AND target_audience->>'audienceId' = $2"
                         " AND meta_campaign_id IS NOT NULL AND meta_ad_account_id IS NOT NULL"
                         " ORDER BY created_at, id", org_id, str(audience_id))
    return [as_struct(row, MetaLink) for row in rows]


class AdAccountInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An ad account as the Meta actor read it: ``account_id`` is ``act_<digits>``."""

    account_id: str
    name: str | None
    currency: str | None
    timezone_name: str | None


async def record_ad_accounts(db: Executor, org_id: uuid.UUID, accounts: list[AdAccountInfo]) -> None:
    """Remember the organization's ad accounts (name, currency, timezone), replacing what was known."""
    await db.execute(
        "INSERT INTO meta_ad_accounts AS a (organization_id, account_id, name, currency, timezone_name)"
        " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
        " ON CONFLICT (organization_id, account_id) DO UPDATE SET name = EXCLUDED.name,"
        " currency = EXCLUDED.currency, timezone_name = EXCLUDED.timezone_name, updated_at = now()"
        " WHERE (a.name, a.currency, a.timezone_name)"
        " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.currency, EXCLUDED.timezone_name)",
        org_id, [a.account_id for a in accounts], [a.name for a in accounts], [a.currency for a in accounts],
        [a.timezone_name for a in accounts])


async def ad_account_currency(db: Executor, org_id: uuid.UUID, account_id: str) -> str | None:
    """The currency recorded for the organization's ad account ``account_id`` (``act_<digits>``), or ``None``."""
    currency = await db.fetchval("SELECT currency FROM meta_ad_accounts WHERE organization_id = $1"
                                 " AND account_id = $2", org_id, account_id)
    return None if currency is None else str(currency)


_SYNCED = (
    "UPDATE campaigns SET meta_budget_minor = coalesce($3, meta_budget_minor),"
    " meta_budget_currency = coalesce($4, meta_budget_currency), meta_synced_at = $5, meta_sync_error = NULL"
    " WHERE organization_id = $1 AND id = $2 AND meta_campaign_id IS NOT NULL"
)
_REFUSED = ("UPDATE campaigns SET meta_sync_error = $3::jsonb WHERE organization_id = $1 AND id = $2"
            " AND meta_campaign_id IS NOT NULL RETURNING name")


async def record_meta_sync(
    db: Executor, org_id: uuid.UUID, campaign_id: uuid.UUID, *, now: datetime,
    budget_minor: int | None = None, currency: str | None = None, error: CampaignMetaRefusal | None = None,
) -> None:
    """Record the outcome of a push to the campaign's linked Meta campaign: the one writer of ``metaSync``.

    Without ``error`` the push succeeded: ``budget_minor`` (in ``currency``), when given, is the lifetime
    budget Meta now has from us, and any earlier refusal is cleared. With ``error`` it was refused: the
    refusal is kept on the campaign (the budget Meta has stays what it was) and ``campaign.meta_sync_failed``
    is enqueued in the same transaction. An unlinked campaign (unlinked meanwhile) records nothing. Like
    ``set_meta_effective_status`` it touches neither ``updated_at`` nor ``campaign.updated``.
    """
    if error is None:
        await db.execute(_SYNCED, org_id, campaign_id, budget_minor, currency, now)
        return
    async with atomic(db) as tx:
        name = await tx.fetchval(_REFUSED, org_id, campaign_id, msgspec.json.encode(error).decode())
        if name is not None:
            await enqueue_event(tx, org_id, SYNC_FAILED, {
                "campaignId": campaign_id, "campaignName": name, "action": error.action,
                "error": {"code": error.code, "message": error.message}}, now=now)
