"""``engine.store.accounts`` against a real PostgreSQL.

Rules: each test gets a fresh migrated database from ``db``; password hashes are placeholder strings
(argon2 is tested in ``test_passwords.py``); expiry is arranged with negative lifetimes, never sleeps;
raw SQL is used only to arrange or observe state the API does not expose. Every test has a deadline.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import trio

from engine.store import Database
from engine.store import accounts as acc
from tests.helpers.factories import EXPIRED, TTL, create_member, create_owner

# --- organizations and users --------------------------------------------------------------------------


async def test_an_organization_is_created_with_its_owner(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db, "Owner@Example.com")
        assert (org.name, org.tier) == ("Label", "free")
        assert (owner.organization_id, owner.role, owner.email_verified) == (org.id, "owner", False)
        creds = await acc.get_credentials_by_email(db, "OWNER@example.COM")
        assert creds is not None and creds.user == owner and creds.password_hash == "hash-o"
        assert await acc.get_credentials_by_email(db, "nobody@example.com") is None
        assert await acc.get_user(db, org.id, owner.id) == owner
        assert await acc.get_organization(db, org.id) == org


async def test_a_taken_email_in_any_case_is_refused_and_leaves_no_organization(db: Database) -> None:
    with trio.fail_after(10):
        await create_owner(db, "owner@example.com")
        assert not await acc.email_available(db, "OWNER@example.com")
        assert await acc.email_available(db, "other@example.com")
        with pytest.raises(acc.EmailTaken):
            await create_owner(db, "Owner@EXAMPLE.com")
        assert await db.fetchval("SELECT count(*) FROM organizations") == 1


async def test_a_new_email_is_unverified_and_voids_old_links(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db, "owner@example.com")
        await acc.mark_email_verified(db, owner.id)
        user = await acc.update_user_profile(db, org.id, owner.id, email="OWNER@example.com", name="O")
        assert user is not None and user.email_verified and user.name == "O"  # only the case changed
        token = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        user = await acc.update_user_profile(db, org.id, owner.id, email="new@example.com")
        assert user is not None and not user.email_verified and user.name == "O"
        assert await acc.consume_email_token(db, token, "verify_email") is None
        await create_owner(db, "taken@example.com")
        with pytest.raises(acc.EmailTaken):
            await acc.update_user_profile(db, org.id, owner.id, email="Taken@example.com")


async def test_passwords_and_organizations_can_change(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        assert await acc.set_password(db, owner.id, "hash-2")
        assert not await acc.set_password(db, uuid.uuid4(), "hash-2")
        creds = await acc.get_credentials_by_email(db, owner.email)
        assert creds is not None and creds.password_hash == "hash-2"
        changed = await acc.update_organization(db, org.id, tier="professional")
        assert changed is not None and (changed.name, changed.tier) == ("Label", "professional")
        assert await acc.update_organization(db, uuid.uuid4(), name="x") is None


# --- members ------------------------------------------------------------------------------------------


async def test_an_organization_never_loses_its_last_owner(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        with pytest.raises(acc.LastOwner):
            await acc.set_member_role(db, org.id, owner.id, "admin")
        with pytest.raises(acc.LastOwner):
            await acc.remove_member(db, org.id, owner.id)
        member = await create_member(db, org.id, "m@example.com", "member")
        promoted = await acc.set_member_role(db, org.id, member.id, "owner")
        assert promoted is not None and promoted.role == "owner"
        demoted = await acc.set_member_role(db, org.id, owner.id, "viewer")
        assert demoted is not None and demoted.role == "viewer"
        assert await acc.remove_member(db, org.id, owner.id)
        assert [u.id for u in await acc.list_members(db, org.id)] == [member.id]


async def test_two_owners_demoting_each_other_at_once_leave_one(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        other = await create_member(db, org.id, "m@example.com", "admin")
        await acc.set_member_role(db, org.id, other.id, "owner")
        refused: list[uuid.UUID] = []

        async def demote(user_id: uuid.UUID) -> None:
            try:
                await acc.set_member_role(db, org.id, user_id, "member")
            except acc.LastOwner:
                refused.append(user_id)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(demote, owner.id)
            nursery.start_soon(demote, other.id)
        assert len(refused) == 1
        assert [u.role for u in await acc.list_members(db, org.id)].count("owner") == 1


async def test_another_organizations_members_are_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, owner_a = await create_owner(db, "a@example.com")
        org_b, _ = await create_owner(db, "b@example.com")
        assert await acc.get_user(db, org_b.id, owner_a.id) is None
        assert await acc.update_user_profile(db, org_b.id, owner_a.id, name="Mallory") is None
        assert await acc.set_member_role(db, org_b.id, owner_a.id, "viewer") is None
        assert not await acc.remove_member(db, org_b.id, owner_a.id)
        assert owner_a.id not in {u.id for u in await acc.list_members(db, org_b.id)}
        assert await acc.get_user(db, org_a.id, owner_a.id) == owner_a


# --- email tokens -------------------------------------------------------------------------------------


async def test_an_email_token_works_once_for_its_purpose(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        token = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        assert await acc.consume_email_token(db, token, "reset_password") is None
        assert await acc.consume_email_token(db, token, "verify_email") == owner.id
        assert await acc.consume_email_token(db, token, "verify_email") is None


async def test_expired_and_superseded_email_tokens_fail(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        expired = await acc.create_email_token(db, owner.id, "reset_password", EXPIRED)
        assert await acc.consume_email_token(db, expired, "reset_password") is None
        older = await acc.create_email_token(db, owner.id, "reset_password", TTL)
        other = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        newer = await acc.create_email_token(db, owner.id, "reset_password", TTL)
        assert await acc.consume_email_token(db, older, "reset_password") is None
        assert await acc.consume_email_token(db, newer, "reset_password") == owner.id
        assert await acc.consume_email_token(db, other, "verify_email") == owner.id


# --- rate-limit counters ------------------------------------------------------------------------------


async def test_counters_count_per_key_and_window_and_prune(db: Database) -> None:
    with trio.fail_after(10):
        window = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
        later = window + timedelta(minutes=1)
        assert [await acc.hit_counter(db, "login:ip", window) for _ in range(3)] == [1, 2, 3]
        assert await acc.hit_counter(db, "login:other", window) == 1
        assert await acc.hit_counter(db, "login:ip", later) == 1
        assert await acc.prune_counters(db, later) == 2
        assert await acc.hit_counter(db, "login:ip", later) == 2
