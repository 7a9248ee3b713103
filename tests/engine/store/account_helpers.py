"""Arrangements shared by the tests of ``accounts``, ``sessions`` and ``invitations``: an organization with
its owner, a member who joined through a real invitation, and a session. Hashes are placeholder strings."""

from __future__ import annotations

from datetime import timedelta

from engine.store import Database, accounts, invitations, sessions

TTL = timedelta(days=30)
EXPIRED = timedelta(seconds=-1)


async def make_org(
    db: Database, email: str = "owner@example.com"
) -> tuple[accounts.Organization, accounts.User]:
    return await accounts.create_organization_with_owner(
        db, org_name="Label", email=email, name="Olive Owner", password_hash="hash-o"
    )


async def make_member(
    db: Database, org: accounts.Organization, email: str, role: invitations.InvitationRole
) -> accounts.User:
    _, token = await invitations.create_invitation(
        db, org.id, email=email, role=role, invited_by=None, ttl=TTL
    )
    return await invitations.accept_invitation(db, token, name="Max Member", password_hash="hash-m")


async def make_session(db: Database, user: accounts.User) -> tuple[sessions.Session, str]:
    return await sessions.create_session(
        db, user_id=user.id, org_id=user.organization_id, refresh_ttl=TTL, user_agent="pytest", ip="::1"
    )
