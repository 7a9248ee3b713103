"""``campaign_meta.record_meta_sync`` against a real PostgreSQL: what a campaign shows of its pushes to Meta
(``metaSync``), the refusal's event, organization scoping, and a new link starting clean.

Rules: each test gets a fresh migrated database from the ``db`` fixture and makes its own organizations;
real time only; every test has a ``fail_after`` deadline.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import trio

from engine.store import Database
from engine.store.campaign_meta import SYNC_FAILED, link_meta, record_meta_sync, unlink_meta
from engine.store.campaign_model import CampaignMetaRefusal, CampaignMetaSync
from engine.store.campaigns import NewCampaign, create_campaign, get_campaign
from tests.helpers import factories

NOW = datetime(2027, 1, 15, 12, tzinfo=UTC)
START, END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)


NEW = NewCampaign(name="Summer Release", objective="streams", budget=80.0, currency="USD", start_date=START,
                  end_date=END)


async def _sync(db: Database, org: uuid.UUID, campaign_id: uuid.UUID) -> CampaignMetaSync | None:
    campaign = await get_campaign(db, org, campaign_id)
    assert campaign is not None
    return campaign.meta_sync


async def test_a_success_is_kept_and_a_refusal_shown_until_the_next_success(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await factories.create_org(db), await factories.create_org(db, "other")
        ours = await create_campaign(db, org, NEW)
        await record_meta_sync(db, org, ours.id, now=NOW, budget_minor=8000, currency="USD")
        assert await _sync(db, org, ours.id) is None  # unlinked
        await link_meta(db, org, ours.id, ad_account_id="act_1", meta_campaign_id="120", effective_status="PAUSED")
        await record_meta_sync(db, org, ours.id, now=NOW, budget_minor=8000, currency="USD")
        synced = CampaignMetaSync(budget_minor=8000, currency="USD", synced_at=NOW, error=None)
        assert await _sync(db, org, ours.id) == synced

        refusal = CampaignMetaRefusal(action="set_budget", code="INTEGRATION_ERROR", message="Meta: no", at=NOW)
        await record_meta_sync(db, other, ours.id, now=NOW, error=refusal)  # not theirs: nothing
        await record_meta_sync(db, org, ours.id, now=NOW, error=refusal)
        shown = await _sync(db, org, ours.id)
        assert shown == CampaignMetaSync(budget_minor=8000, currency="USD", synced_at=NOW, error=refusal)
        rows = await db.fetch("SELECT organization_id, payload::text AS p FROM webhook_events WHERE type = $1",
                              SYNC_FAILED)
        assert [(row["organization_id"], json.loads(row["p"])["data"]) for row in rows] == [(org, {
            "campaignId": str(ours.id), "campaignName": "Summer Release", "action": "set_budget",
            "error": {"code": "INTEGRATION_ERROR", "message": "Meta: no"}})]

        await record_meta_sync(db, org, ours.id, now=NOW, budget_minor=9000, currency="USD")
        assert await _sync(db, org, ours.id) == CampaignMetaSync(budget_minor=9000, currency="USD", synced_at=NOW,
                                                                 error=None)


async def test_a_new_link_starts_with_nothing_pushed(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        ours = await create_campaign(db, org, NEW)
        await link_meta(db, org, ours.id, ad_account_id="act_1", meta_campaign_id="120", effective_status=None)
        await record_meta_sync(db, org, ours.id, now=NOW, budget_minor=8000, currency="USD")
        await unlink_meta(db, org, ours.id)
        assert await _sync(db, org, ours.id) is None
        relinked = await link_meta(db, org, ours.id, ad_account_id="act_2", meta_campaign_id="121",
                                   effective_status=None)
        assert relinked is not None and relinked.meta_sync is None
