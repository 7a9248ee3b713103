"""The audit triggers (migration 0017) and how the database layer hands them who acts: a row only while
someone acts, in the same transaction as the change (rolled back with it), none for an update that changes
nothing or only the engine's own columns, none for a cascade's consequences.

Rules: changes are made with the store's functions or plain SQL inside ``acting_as``, as a route makes them;
rows are read from the table.
"""

from __future__ import annotations

import uuid

import pytest

from engine.audit import Actor, AuditContext, acting_as
from engine.store import accounts
from engine.store.database import Database
from tests.helpers.factories import create_campaign, create_org, create_track


def _as_user(org: uuid.UUID) -> AuditContext:
    return AuditContext(actor=Actor(type="user", user_id=uuid.uuid4(), label="ana@label.example"),
                        source="PATCH /v1/things/{thing_id}", organization_id=org, ip="192.0.2.1", request_id="r1")


async def _rows(db: Database) -> list[dict[str, object]]:
    return [dict(row) for row in await db.fetch(
        "SELECT action, object_id, before::text AS before, after::text AS after FROM audit_log ORDER BY seq")]


class Boom(Exception):
    pass


async def test_a_change_is_recorded_only_while_someone_acts(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    await db.execute("UPDATE tracks SET title = 'Engine' WHERE id = $1", track)  # nobody acts: the engine's
    assert await _rows(db) == []
    with acting_as(_as_user(org)):
        await db.execute("UPDATE tracks SET title = 'Mine' WHERE id = $1", track)  # a lone pool statement
    assert await _rows(db) == [{"action": "track.updated", "object_id": str(track),
                                "before": '{"title": "Engine"}', "after": '{"title": "Mine"}'}]
    row = await db.fetchrow("SELECT organization_id, actor_label, ip, request_id, source FROM audit_log")
    assert row is not None and tuple(row) == (org, "ana@label.example", "192.0.2.1", "r1",
                                              "PATCH /v1/things/{thing_id}")


async def test_a_rolled_back_change_leaves_no_row(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    with acting_as(_as_user(org)), pytest.raises(Boom):
        async with db.transaction() as tx:
            await tx.execute("UPDATE tracks SET title = 'Lost' WHERE id = $1", track)
            assert await tx.fetchval("SELECT count(*) FROM audit_log") == 1  # written with the change
            raise Boom
    assert await _rows(db) == []


async def test_no_row_for_an_empty_update_or_the_engines_columns(db: Database) -> None:
    org = await create_org(db)
    campaign = await create_campaign(db, org)
    with acting_as(_as_user(org)):
        async with db.transaction() as tx:
            await tx.execute("UPDATE campaigns SET status = status WHERE id = $1", campaign)  # a lock
            await tx.execute("UPDATE campaigns SET budget_spent = 12, updated_at = now() WHERE id = $1", campaign)
    assert await _rows(db) == []


async def test_secrets_are_masked_and_a_deleted_organization_takes_its_log(db: Database) -> None:
    with acting_as(_as_user(uuid.uuid4())):
        org, user = await accounts.create_organization_with_owner(db, org_name="Label", email="nia@label.example",
                                                                    name="Nia", password_hash="hash-1")
        await db.execute("UPDATE users SET password_hash = 'hash-2' WHERE id = $1", user.id)
    rows = await db.fetch("SELECT action, before ->> 'password_hash' AS old, after ->> 'password_hash' AS new"
                          " FROM audit_log WHERE object_type = 'user' ORDER BY seq")
    assert [tuple(row) for row in rows] == [("user.created", None, "***"), ("user.updated", "***", "***")]
    with acting_as(_as_user(org.id)):
        await db.execute("DELETE FROM organizations WHERE id = $1", org.id)  # its users go with it
    # The organization's log goes with it, and neither its deletion nor its users' is recorded.
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_who_acts_is_quoted_and_leaves_the_isolation_to_the_transaction(db: Database) -> None:
    org = await create_org(db)
    track = await create_track(db, org)
    context = AuditContext(actor=Actor(type="user", label="o'brien\\'; DROP TABLE tracks; --@label.example"),
                           source="PATCH /v1/tracks/{track_id}", organization_id=org)
    with acting_as(context):
        async with db.transaction() as tx:
            await tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # still the first query
            await tx.execute("UPDATE tracks SET title = 'Quoted' WHERE id = $1", track)
    assert await db.fetchval("SELECT actor_label FROM audit_log") == context.actor.label
