"""The organizations' maintained campaign counts (migration 0023), which the list's ``total`` reads: exact
after single and bulk inserts, deletes, concurrent creations, and an organization's deletion.

Rules: each test gets a fresh migrated database from the ``db`` fixture; real time; a ``fail_after`` each.
"""

from __future__ import annotations

import uuid

import trio

from engine.store import Database
from engine.store.campaigns import delete_campaign, list_campaigns
from engine.store.organization_data import delete_organization
from tests.helpers import factories

_BULK = (
    "INSERT INTO campaigns (organization_id, name, objective, budget, currency, start_date, end_date)"
    " SELECT $1::uuid, 'bulk ' || i, 'streams', 100, 'USD', now(), now() + interval '30 days'"
    " FROM generate_series(1, $2::int) i"
)


async def _counted(db: Database, org: uuid.UUID) -> tuple[int | None, int, int]:
    """(the maintained count, count(*), the list's total)."""
    kept = await db.fetchval("SELECT campaigns FROM campaign_counts WHERE organization_id = $1", org)
    exact = await db.fetchval("SELECT count(*) FROM campaigns WHERE organization_id = $1", org)
    assert kept is None or isinstance(kept, int)
    assert isinstance(exact, int)
    return kept, exact, (await list_campaigns(db, org, limit=5)).total


async def test_the_count_follows_inserts_and_deletes_one_by_one_and_in_bulk(db: Database) -> None:
    with trio.fail_after(20):
        org, other = await factories.create_org(db, "a"), await factories.create_org(db, "b")
        assert (await _counted(db, org))[2] == 0  # no campaign yet: no row, a total of 0
        ids = [await factories.create_campaign(db, org, name=f"c{i}") for i in range(3)]
        await db.execute(_BULK, org, 250)
        await db.execute(_BULK, other, 7)
        assert await _counted(db, org) == (253, 253, 253)
        assert await delete_campaign(db, org, ids[0])
        await db.execute("DELETE FROM campaigns WHERE organization_id = $1 AND name LIKE 'bulk 1%'", org)
        kept, exact, total = await _counted(db, org)
        assert kept == exact == total == 252 - 111  # bulk 1, 10-19, 100-199: 111 names
        assert await _counted(db, other) == (7, 7, 7)


async def test_a_rolled_back_insert_is_not_counted(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        await factories.create_campaign(db, org)
        try:
            async with db.transaction() as tx:
                await tx.execute(_BULK, org, 5)
                raise RuntimeError("changed our mind")
        except RuntimeError:
            pass
        assert await _counted(db, org) == (1, 1, 1)


async def test_concurrent_creations_add_up(db: Database) -> None:
    with trio.fail_after(20):
        org = await factories.create_org(db)
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(db.execute, _BULK, org, 10 + i)
        assert await _counted(db, org) == (108, 108, 108)


async def test_deleting_the_organization_takes_its_count_and_leaves_others(db: Database) -> None:
    with trio.fail_after(20):
        org, _owner = await factories.create_owner(db)
        other = await factories.create_org(db, "other")
        await db.execute(_BULK, org.id, 30)
        await db.execute(_BULK, other, 4)
        assert await delete_organization(db, org.id) is not None
        assert await db.fetchval("SELECT count(*) FROM campaign_counts WHERE organization_id = $1", org.id) == 0
        assert await _counted(db, other) == (4, 4, 4)


async def test_an_empty_page_and_a_filtered_list_keep_their_totals(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        await factories.create_campaign(db, org, name="Summer", status="active")
        await factories.create_campaign(db, org, name="Winter")
        beyond = await list_campaigns(db, org, limit=5, offset=10)
        assert (beyond.items, beyond.total, beyond.has_next) == ([], 2, False)
        active = await list_campaigns(db, org, status="active")
        assert [c.name for c in active.items] == ["Summer"] and active.total == 1
        searched = await list_campaigns(db, org, search="wint", offset=3)
        assert searched.items == [] and searched.total == 1
