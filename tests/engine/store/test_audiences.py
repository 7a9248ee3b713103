"""``engine.store.audiences`` against a real PostgreSQL: round trips, organization scoping, search and
paging, and lookalikes (built only from custom audiences, deleted with their source).

Rules: each test gets a fresh migrated database from the ``db`` fixture and makes its own organizations;
real time only (no autojump clock); every test has a ``fail_after`` deadline.
"""

from __future__ import annotations

import uuid

import msgspec
import pytest
import trio

from engine.store import Database
from engine.store.audiences import (
    Lookalike,
    NewAudience,
    create_audience,
    create_lookalike,
    delete_audience,
    get_audience,
    list_audiences,
    update_audience,
)
from engine.store.catalog_common import Conflict
from tests.helpers.factories import create_org

CRITERIA: dict[str, object] = {"ageMin": 18, "interests": ["electronic music"], "locations": ["US"]}


async def test_create_get_update_delete_round_trip(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        new = NewAudience(name="EDM Fans", description="young", criteria=CRITERIA)
        created = await create_audience(db, org, new)
        assert (created.type, created.criteria, created.lookalike, created.source_audience_id) == (
            "custom", CRITERIA, None, None,
        )  # fmt: skip
        assert await get_audience(db, org, created.id) == created
        wire = msgspec.json.decode(msgspec.json.encode(created))
        assert {"id", "name", "type", "criteria", "sourceAudienceId", "lookalike", "createdAt"} <= set(wire)

        changes = {"criteria": {"ageMin": 21}, "description": None}
        updated = await update_audience(db, org, created.id, changes)
        assert updated is not None and updated.updated_at > created.updated_at
        assert (updated.name, updated.description, updated.criteria) == ("EDM Fans", None, {"ageMin": 21})
        with pytest.raises(ValueError, match="kind"):
            await update_audience(db, org, created.id, {"kind": "lookalike"})

        assert await delete_audience(db, org, created.id) is True
        assert await get_audience(db, org, created.id) is None
        assert await delete_audience(db, org, created.id) is False
        assert await update_audience(db, org, created.id, {"name": "x"}) is None


async def test_another_organizations_audience_is_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, org_b = await create_org(db, "a"), await create_org(db, "b")
        audience = await create_audience(db, org_a, NewAudience(name="Fans"))
        assert await get_audience(db, org_b, audience.id) is None
        assert await update_audience(db, org_b, audience.id, {"name": "stolen"}) is None
        assert await delete_audience(db, org_b, audience.id) is False
        copy = await create_lookalike(db, org_b, audience.id, name="copy", countries=["US"], ratio=0.01)
        assert copy is None
        assert (await list_audiences(db, org_b)).total == 0
        assert await get_audience(db, org_a, audience.id) == audience
        assert await db.fetchval("SELECT count(*) FROM audiences") == 1


async def test_lookalikes_come_from_custom_audiences_and_go_with_them(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        source = await create_audience(db, org, NewAudience(name="EDM Fans", criteria=CRITERIA))
        lookalike = await create_lookalike(db, org, source.id, name="Lookalike", countries=["US"], ratio=0.01)
        assert lookalike is not None
        assert (lookalike.type, lookalike.source_audience_id) == ("lookalike", source.id)
        assert lookalike.criteria == {}
        assert lookalike.lookalike == Lookalike(countries=["US"], ratio=0.01)
        assert await get_audience(db, org, lookalike.id) == lookalike

        with pytest.raises(Conflict) as info:
            await create_lookalike(db, org, lookalike.id, name="twice removed", countries=["US"], ratio=0.02)
        assert info.value.field == "sourceAudienceId"
        assert await create_lookalike(db, org, uuid.uuid4(), name="x", countries=["US"], ratio=0.01) is None

        assert await delete_audience(db, org, source.id) is True
        assert await get_audience(db, org, lookalike.id) is None


async def test_search_is_literal_and_pages_are_stable(db: Database) -> None:
    with trio.fail_after(10):
        org = await create_org(db)
        for name in ("10% fans", "100 fans", "a_b", "axb", "Other"):
            await create_audience(db, org, NewAudience(name=name))
        await db.execute("UPDATE audiences SET created_at = '2024-01-01T00:00:00Z'")  # all tie
        found = await list_audiences(db, org, search="0%")
        assert [a.name for a in found.items] == ["10% fans"] and found.total == 1
        assert [a.name for a in (await list_audiences(db, org, search="A_")).items] == ["a_b"]

        seen: list[uuid.UUID] = []
        for offset in (0, 2, 4):
            page = await list_audiences(db, org, limit=2, offset=offset)
            assert (page.total, page.has_next) == (5, offset < 3)
            seen += [a.id for a in page.items]
        assert len(set(seen)) == 5
