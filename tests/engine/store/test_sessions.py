"""``engine.store.sessions`` against a real PostgreSQL.

Rules: each test gets a fresh migrated database from ``db``; password hashes are placeholder strings
(argon2 is tested in ``test_passwords.py``); expiry is arranged with negative lifetimes, never sleeps;
raw SQL is used only to arrange or observe state the API does not expose. Every test has a deadline.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import trio

from engine.store import Database, accounts
from engine.store import sessions as ses
from tests.helpers.factories import EXPIRED, TTL, create_member, create_owner, create_session


async def test_a_refresh_token_rotates_into_a_new_one(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        session, first = await create_session(db, owner)
        result = await ses.rotate_refresh_token(db, first, TTL)
        assert isinstance(result, ses.Rotated)
        assert (result.session.id, result.user, result.session.ip) == (session.id, owner, "::1")
        assert result.refresh_token != first
        again = await ses.rotate_refresh_token(db, result.refresh_token, TTL)
        assert isinstance(again, ses.Rotated) and again.session.id == session.id
        assert isinstance(await ses.rotate_refresh_token(db, "never issued", TTL), ses.Invalid)


async def test_reusing_a_rotated_token_revokes_the_session(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        session, first = await create_session(db, owner)
        rotated = await ses.rotate_refresh_token(db, first, TTL)
        assert isinstance(rotated, ses.Rotated)
        assert await ses.rotate_refresh_token(db, first, TTL) == ses.Reused(
            session_id=session.id, user_id=owner.id
        )
        assert isinstance(await ses.rotate_refresh_token(db, rotated.refresh_token, TTL), ses.Invalid)
        check = await ses.check_session(db, session.id, owner.id)
        assert check is not None and not check.live
        reason = await db.fetchval("SELECT revoked_reason FROM sessions WHERE id = $1", session.id)
        assert reason == "refresh_token_reuse"


async def test_of_two_concurrent_rotations_exactly_one_wins(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        _, token = await create_session(db, owner)
        results: list[ses.RotationResult] = []

        async def rotate() -> None:
            results.append(await ses.rotate_refresh_token(db, token, TTL))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(rotate)
            nursery.start_soon(rotate)
        assert sorted(type(r).__name__ for r in results) == ["Reused", "Rotated"]


async def test_expired_tokens_and_sessions_are_invalid(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        session, first = await create_session(db, owner)
        short = await ses.rotate_refresh_token(db, first, EXPIRED)  # the session keeps its own expiry
        assert isinstance(short, ses.Rotated) and short.session.expires_at == session.expires_at
        assert isinstance(await ses.rotate_refresh_token(db, short.refresh_token, TTL), ses.Invalid)
        dead = await ses.create_session(
            db, user_id=owner.id, org_id=owner.organization_id, refresh_ttl=EXPIRED, user_agent=None, ip=None
        )
        assert isinstance(await ses.rotate_refresh_token(db, dead[1], TTL), ses.Invalid)
        check = await ses.check_session(db, dead[0].id, owner.id)
        assert check is not None and not check.live


async def test_check_session_follows_role_changes_and_revocation(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await create_owner(db)
        member = await create_member(db, org.id, "m@example.com", "member")
        session, _ = await create_session(db, member)
        assert await ses.check_session(db, session.id, member.id) == ses.SessionCheck(
            session_id=session.id, user_id=member.id, organization_id=org.id, role="member", tier="free",
            email_verified=True, live=True, email="m@example.com", name=member.name, created_at=member.created_at,
            organization_name=org.name,
        )
        await accounts.set_member_role(db, org.id, member.id, "admin")
        await accounts.update_organization(db, org.id, tier="starter")
        check = await ses.check_session(db, session.id, member.id)
        assert check is not None and (check.role, check.tier) == ("admin", "starter")
        assert await ses.check_session(db, session.id, uuid.uuid4()) is None  # not that user's session
        assert await ses.revoke_session(db, org.id, member.id, session.id, "logout")
        assert not await ses.revoke_session(db, org.id, member.id, session.id, "logout")
        check = await ses.check_session(db, session.id, member.id)
        assert check is not None and not check.live
        assert await accounts.remove_member(db, org.id, member.id)
        assert await ses.check_session(db, session.id, member.id) is None


async def test_check_session_records_use_at_most_once_a_minute(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await create_owner(db)
        session, _ = await create_session(db, owner)
        last_used = "SELECT last_used_at FROM sessions WHERE id = $1"
        await ses.check_session(db, session.id, owner.id)
        assert await db.fetchval(last_used, session.id) == session.last_used_at  # used seconds ago
        await db.execute("UPDATE sessions SET last_used_at = now() - interval '2 minutes' WHERE id = $1",
                         session.id)
        await ses.check_session(db, session.id, owner.id)
        touched = await db.fetchval(last_used, session.id)
        assert isinstance(touched, datetime) and touched > datetime.now(UTC) - timedelta(minutes=1)


async def test_listing_and_revoking_all_sessions(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        keep, _ = await create_session(db, owner)
        for _ in range(2):
            await create_session(db, owner)
        assert len(await ses.list_sessions(db, org.id, owner.id)) == 3
        assert await ses.revoke_all_sessions(db, owner.id, "password_changed", except_session=keep.id) == 2
        assert [s.id for s in await ses.list_sessions(db, org.id, owner.id)] == [keep.id]
        assert await ses.revoke_all_sessions(db, owner.id, "password_changed") == 1


async def test_another_organizations_sessions_are_not_found(db: Database) -> None:
    with trio.fail_after(10):
        _, owner_a = await create_owner(db, "a@example.com")
        org_b, _ = await create_owner(db, "b@example.com")
        session, _ = await create_session(db, owner_a)
        assert await ses.list_sessions(db, org_b.id, owner_a.id) == []
        assert not await ses.revoke_session(db, org_b.id, owner_a.id, session.id, "x")
        check = await ses.check_session(db, session.id, owner_a.id)
        assert check is not None and check.live
