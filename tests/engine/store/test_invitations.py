"""``engine.store.invitations`` against a real PostgreSQL.

Rules: each test gets a fresh migrated database from ``db``; password hashes are placeholder strings
(argon2 is tested in ``test_passwords.py``); expiry is arranged with negative lifetimes, never sleeps;
raw SQL is used only to arrange or observe state the API does not expose. Every test has a deadline.
"""

from __future__ import annotations

import pytest
import trio

from engine.store import Database, accounts
from engine.store import invitations as inv
from tests.helpers.factories import EXPIRED, TTL, create_owner


async def test_an_accepted_invitation_creates_a_verified_member(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        invitation, token = await inv.create_invitation(
            db, org.id, email="New@example.com", role="admin", invited_by=owner.id, ttl=TTL
        )
        assert (invitation.status, invitation.invited_by) == ("pending", owner.id)
        user = await inv.accept_invitation(db, token, name="Nia", password_hash="hash-n")
        assert (user.organization_id, user.email, user.role) == (org.id, "New@example.com", "admin")
        assert user.email_verified
        assert [i.status for i in (await inv.list_invitations(db, org.id)).items] == ["accepted"]
        with pytest.raises(inv.InvalidInvitation):
            await inv.accept_invitation(db, token, name="Nia", password_hash="hash-n")


async def test_expired_revoked_and_superseded_invitations_fail(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await create_owner(db)
        _, expired = await inv.create_invitation(
            db, org.id, email="e@example.com", role="viewer", invited_by=None, ttl=EXPIRED
        )
        revoked, revoked_token = await inv.create_invitation(
            db, org.id, email="r@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        assert await inv.revoke_invitation(db, org.id, revoked.id)
        assert not await inv.revoke_invitation(db, org.id, revoked.id)
        _, older = await inv.create_invitation(
            db, org.id, email="s@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        await inv.create_invitation(
            db, org.id, email="S@example.com", role="member", invited_by=None, ttl=TTL
        )
        for token in (expired, revoked_token, older, "never issued"):
            with pytest.raises(inv.InvalidInvitation):
                await inv.accept_invitation(db, token, name="X", password_hash="hash-x")
        statuses = sorted(i.status for i in (await inv.list_invitations(db, org.id)).items)
        assert statuses == ["expired", "pending", "revoked", "revoked"]


async def test_an_invitation_to_a_taken_email_is_refused(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await create_owner(db, "owner@example.com")
        with pytest.raises(accounts.EmailTaken):
            await inv.create_invitation(db, org.id, email="OWNER@example.com", role="viewer",
                                        invited_by=None, ttl=TTL)
        invitation, token = await inv.create_invitation(
            db, org.id, email="late@example.com", role="viewer", invited_by=None, ttl=TTL
        )
        await create_owner(db, "Late@example.com")  # the address registered on its own in the meantime
        with pytest.raises(accounts.EmailTaken):
            await inv.accept_invitation(db, token, name="L", password_hash="hash-l")
        assert [i.status for i in (await inv.list_invitations(db, org.id)).items] == ["pending"]
        assert invitation.email == "late@example.com"


async def test_another_organizations_invitations_are_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, owner_a = await create_owner(db, "a@example.com")
        org_b, _ = await create_owner(db, "b@example.com")
        invitation, _ = await inv.create_invitation(
            db, org_a.id, email="i@example.com", role="viewer", invited_by=owner_a.id, ttl=TTL
        )
        assert (await inv.list_invitations(db, org_b.id)).items == []
        assert not await inv.revoke_invitation(db, org_b.id, invitation.id)
        assert [i.status for i in (await inv.list_invitations(db, org_a.id)).items] == ["pending"]
