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

TTL = timedelta(days=30)
EXPIRED = timedelta(seconds=-1)


async def _org(db: Database, email: str = "owner@example.com") -> tuple[acc.Organization, acc.User]:
    return await acc.create_organization_with_owner(
        db, org_name="Label", email=email, name="Olive Owner", password_hash="hash-o"
    )


async def _member(db: Database, org: acc.Organization, email: str, role: acc.InvitationRole) -> acc.User:
    _, token = await acc.create_invitation(db, org.id, email=email, role=role, invited_by=None, ttl=TTL)
    return await acc.accept_invitation(db, token, name="Max Member", password_hash="hash-m")


async def _session(db: Database, user: acc.User) -> tuple[acc.Session, str]:
    return await acc.create_session(
        db, user_id=user.id, org_id=user.organization_id, refresh_ttl=TTL, user_agent="pytest", ip="::1"
    )


# --- organizations and users --------------------------------------------------------------------------


async def test_an_organization_is_created_with_its_owner(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db, "Owner@Example.com")
        assert (org.name, org.tier) == ("Label", "free")
        assert (owner.organization_id, owner.role, owner.email_verified) == (org.id, "owner", False)
        creds = await acc.get_credentials_by_email(db, "OWNER@example.COM")
        assert creds is not None and creds.user == owner and creds.password_hash == "hash-o"
        assert await acc.get_credentials_by_email(db, "nobody@example.com") is None
        assert await acc.get_user(db, org.id, owner.id) == owner
        assert await acc.get_organization(db, org.id) == org


async def test_a_taken_email_in_any_case_is_refused_and_leaves_no_organization(db: Database) -> None:
    with trio.fail_after(10):
        await _org(db, "owner@example.com")
        assert not await acc.email_available(db, "OWNER@example.com")
        assert await acc.email_available(db, "other@example.com")
        with pytest.raises(acc.EmailTaken):
            await _org(db, "Owner@EXAMPLE.com")
        assert await db.fetchval("SELECT count(*) FROM organizations") == 1


async def test_a_new_email_is_unverified_and_voids_old_links(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db)
        await acc.mark_email_verified(db, owner.id)
        user = await acc.update_user_profile(db, org.id, owner.id, email="OWNER@example.com", name="O")
        assert user is not None and user.email_verified and user.name == "O"  # only the case changed
        token = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        user = await acc.update_user_profile(db, org.id, owner.id, email="new@example.com")
        assert user is not None and not user.email_verified and user.name == "O"
        assert await acc.consume_email_token(db, token, "verify_email") is None
        await _org(db, "taken@example.com")
        with pytest.raises(acc.EmailTaken):
            await acc.update_user_profile(db, org.id, owner.id, email="Taken@example.com")


async def test_passwords_and_organizations_can_change(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db)
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
        org, owner = await _org(db)
        with pytest.raises(acc.LastOwner):
            await acc.set_member_role(db, org.id, owner.id, "admin")
        with pytest.raises(acc.LastOwner):
            await acc.remove_member(db, org.id, owner.id)
        member = await _member(db, org, "m@example.com", "member")
        promoted = await acc.set_member_role(db, org.id, member.id, "owner")
        assert promoted is not None and promoted.role == "owner"
        demoted = await acc.set_member_role(db, org.id, owner.id, "viewer")
        assert demoted is not None and demoted.role == "viewer"
        assert await acc.remove_member(db, org.id, owner.id)
        assert [u.id for u in await acc.list_members(db, org.id)] == [member.id]


async def test_two_owners_demoting_each_other_at_once_leave_one(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db)
        other = await _member(db, org, "m@example.com", "admin")
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


# --- sessions -----------------------------------------------------------------------------------------


async def test_a_refresh_token_rotates_into_a_new_one(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        session, first = await _session(db, owner)
        result = await acc.rotate_refresh_token(db, first, TTL)
        assert isinstance(result, acc.Rotated)
        assert (result.session.id, result.user, result.session.ip) == (session.id, owner, "::1")
        assert result.refresh_token != first
        again = await acc.rotate_refresh_token(db, result.refresh_token, TTL)
        assert isinstance(again, acc.Rotated) and again.session.id == session.id
        assert isinstance(await acc.rotate_refresh_token(db, "never issued", TTL), acc.Invalid)


async def test_reusing_a_rotated_token_revokes_the_session(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        session, first = await _session(db, owner)
        rotated = await acc.rotate_refresh_token(db, first, TTL)
        assert isinstance(rotated, acc.Rotated)
        assert await acc.rotate_refresh_token(db, first, TTL) == acc.Reused(
            session_id=session.id, user_id=owner.id
        )
        assert isinstance(await acc.rotate_refresh_token(db, rotated.refresh_token, TTL), acc.Invalid)
        check = await acc.check_session(db, session.id, owner.id)
        assert check is not None and not check.live
        reason = await db.fetchval("SELECT revoked_reason FROM sessions WHERE id = $1", session.id)
        assert reason == "refresh_token_reuse"


async def test_of_two_concurrent_rotations_exactly_one_wins(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        _, token = await _session(db, owner)
        results: list[acc.RotationResult] = []

        async def rotate() -> None:
            results.append(await acc.rotate_refresh_token(db, token, TTL))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(rotate)
            nursery.start_soon(rotate)
        assert sorted(type(r).__name__ for r in results) == ["Reused", "Rotated"]


async def test_expired_tokens_and_sessions_are_invalid(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        session, first = await _session(db, owner)
        short = await acc.rotate_refresh_token(db, first, EXPIRED)  # the session keeps its own expiry
        assert isinstance(short, acc.Rotated) and short.session.expires_at == session.expires_at
        assert isinstance(await acc.rotate_refresh_token(db, short.refresh_token, TTL), acc.Invalid)
        dead = await acc.create_session(
            db, user_id=owner.id, org_id=owner.organization_id, refresh_ttl=EXPIRED, user_agent=None, ip=None
        )
        assert isinstance(await acc.rotate_refresh_token(db, dead[1], TTL), acc.Invalid)
        check = await acc.check_session(db, dead[0].id, owner.id)
        assert check is not None and not check.live


async def test_check_session_follows_role_changes_and_revocation(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await _org(db)
        member = await _member(db, org, "m@example.com", "member")
        session, _ = await _session(db, member)
        assert await acc.check_session(db, session.id, member.id) == acc.SessionCheck(
            session_id=session.id, user_id=member.id, organization_id=org.id, role="member", tier="free",
            email_verified=True, live=True,
        )
        await acc.set_member_role(db, org.id, member.id, "admin")
        await acc.update_organization(db, org.id, tier="starter")
        check = await acc.check_session(db, session.id, member.id)
        assert check is not None and (check.role, check.tier) == ("admin", "starter")
        assert await acc.check_session(db, session.id, uuid.uuid4()) is None  # not that user's session
        assert await acc.revoke_session(db, org.id, member.id, session.id, "logout")
        assert not await acc.revoke_session(db, org.id, member.id, session.id, "logout")
        check = await acc.check_session(db, session.id, member.id)
        assert check is not None and not check.live
        assert await acc.remove_member(db, org.id, member.id)
        assert await acc.check_session(db, session.id, member.id) is None


async def test_check_session_records_use_at_most_once_a_minute(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        session, _ = await _session(db, owner)
        last_used = "SELECT last_used_at FROM sessions WHERE id = $1"
        await acc.check_session(db, session.id, owner.id)
        assert await db.fetchval(last_used, session.id) == session.last_used_at  # used seconds ago
        await db.execute("UPDATE sessions SET last_used_at = now() - interval '2 minutes' WHERE id = $1",
                         session.id)
        await acc.check_session(db, session.id, owner.id)
        touched = await db.fetchval(last_used, session.id)
        assert isinstance(touched, datetime) and touched > datetime.now(UTC) - timedelta(minutes=1)


async def test_listing_and_revoking_all_sessions(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db)
        keep, _ = await _session(db, owner)
        for _ in range(2):
            await _session(db, owner)
        assert len(await acc.list_sessions(db, org.id, owner.id)) == 3
        assert await acc.revoke_all_sessions(db, owner.id, "password_changed", except_session=keep.id) == 2
        assert [s.id for s in await acc.list_sessions(db, org.id, owner.id)] == [keep.id]
        assert await acc.revoke_all_sessions(db, owner.id, "password_changed") == 1


async def test_another_organizations_ids_are_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, owner_a = await _org(db, "a@example.com")
        org_b, _ = await _org(db, "b@example.com")
        session, _ = await _session(db, owner_a)
        invitation, _ = await acc.create_invitation(
            db, org_a.id, email="i@example.com", role="viewer", invited_by=owner_a.id, ttl=TTL
        )
        assert await acc.get_user(db, org_b.id, owner_a.id) is None
        assert await acc.update_user_profile(db, org_b.id, owner_a.id, name="Mallory") is None
        assert await acc.set_member_role(db, org_b.id, owner_a.id, "viewer") is None
        assert not await acc.remove_member(db, org_b.id, owner_a.id)
        assert await acc.list_sessions(db, org_b.id, owner_a.id) == []
        assert not await acc.revoke_session(db, org_b.id, owner_a.id, session.id, "x")
        assert await acc.list_invitations(db, org_b.id) == []
        assert not await acc.revoke_invitation(db, org_b.id, invitation.id)
        assert owner_a.id not in {u.id for u in await acc.list_members(db, org_b.id)}
        check = await acc.check_session(db, session.id, owner_a.id)
        assert check is not None and check.live


# --- email tokens -------------------------------------------------------------------------------------


async def test_an_email_token_works_once_for_its_purpose(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        token = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        assert await acc.consume_email_token(db, token, "reset_password") is None
        assert await acc.consume_email_token(db, token, "verify_email") == owner.id
        assert await acc.consume_email_token(db, token, "verify_email") is None


async def test_expired_and_superseded_email_tokens_fail(db: Database) -> None:
    with trio.fail_after(10):
        _, owner = await _org(db)
        expired = await acc.create_email_token(db, owner.id, "reset_password", EXPIRED)
        assert await acc.consume_email_token(db, expired, "reset_password") is None
        older = await acc.create_email_token(db, owner.id, "reset_password", TTL)
        other = await acc.create_email_token(db, owner.id, "verify_email", TTL)
        newer = await acc.create_email_token(db, owner.id, "reset_password", TTL)
        assert await acc.consume_email_token(db, older, "reset_password") is None
        assert await acc.consume_email_token(db, newer, "reset_password") == owner.id
        assert await acc.consume_email_token(db, other, "verify_email") == owner.id


# --- invitations --------------------------------------------------------------------------------------


async def test_an_accepted_invitation_creates_a_verified_member(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await _org(db)
        invitation, token = await acc.create_invitation(
            db, org.id, email="New@example.com", role="admin", invited_by=owner.id, ttl=TTL
        )
        assert (invitation.status, invitation.invited_by) == ("pending", owner.id)
        user = await acc.accept_invitation(db, token, name="Nia", password_hash="hash-n")
        assert (user.organization_id, user.email, user.role) == (org.id, "New@example.com", "admin")
        assert user.email_verified
        assert [i.status for i in await acc.list_invitations(db, org.id)] == ["accepted"]
        with pytest.raises(acc.InvalidInvitation):
            await acc.accept_invitation(db, token, name="Nia", password_hash="hash-n")


async def test_expired_revoked_and_superseded_invitations_fail(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await _org(db)
        _, expired = await acc.create_invitation(
            db, org.id, email="e@example.com", role="viewer", invited_by=None, ttl=EXPIRED
        )
        revoked, revoked_token = await acc.create_invitation(
            db, org.id, email="r@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        assert await acc.revoke_invitation(db, org.id, revoked.id)
        assert not await acc.revoke_invitation(db, org.id, revoked.id)
        _, older = await acc.create_invitation(
            db, org.id, email="s@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        await acc.create_invitation(
            db, org.id, email="S@example.com", role="member", invited_by=None, ttl=TTL
        )
        for token in (expired, revoked_token, older, "never issued"):
            with pytest.raises(acc.InvalidInvitation):
                await acc.accept_invitation(db, token, name="X", password_hash="hash-x")
        statuses = sorted(i.status for i in await acc.list_invitations(db, org.id))
        assert statuses == ["expired", "pending", "revoked", "revoked"]


async def test_an_invitation_to_a_taken_email_is_refused(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await _org(db)
        with pytest.raises(acc.EmailTaken):
            await acc.create_invitation(db, org.id, email="OWNER@example.com", role="viewer",
                                        invited_by=None, ttl=TTL)
        invitation, token = await acc.create_invitation(
            db, org.id, email="late@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        await _org(db, "Late@example.com")  # the address registered on its own in the meantime
        with pytest.raises(acc.EmailTaken):
            await acc.accept_invitation(db, token, name="L", password_hash="hash-l")
        assert [i.status for i in await acc.list_invitations(db, org.id)] == ["pending"]
        assert invitation.email == "late@example.com"


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
