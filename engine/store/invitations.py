"""SQL for invitations: inviting an address into an organization with a role, listing, revoking, and
accepting, which creates the user.

It enforces that only the newest pending invitation of an address works, that a token is used once, and
that its secret is never stored; who may invite whom is the caller's policy. Every function of one
organization takes its ``org_id`` and filters on it. Errors::

    StoreError
     └── AccountError (accounts.py)
          ├── EmailTaken          the address already has an account (accounts.py)
          └── InvalidInvitation   the invitation is unknown, expired, accepted or revoked
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from engine.store.accounts import AccountError, EmailTaken, User, insert_user
from engine.store.catalog_common import Page, check_window, count_rows, page
from engine.store.database import Database
from engine.store.rows import as_struct, fetch_one, new_token, row_count, token_digest

__all__ = [
    "InvalidInvitation", "Invitation", "InvitationRole", "InvitationStatus", "accept_invitation",
    "create_invitation", "find_pending_invitation", "list_invitations", "revoke_invitation",
]  # fmt: skip

InvitationRole = Literal["admin", "member", "viewer"]
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class Invitation(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    role: InvitationRole
    invited_by: uuid.UUID | None
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime


class InvalidInvitation(AccountError):
    """The invitation token is unknown, expired, already accepted or revoked."""


_INVITATION_COLUMNS = (
    "id, organization_id, email, role, invited_by, created_at, expires_at,"
    " CASE WHEN accepted_at IS NOT NULL THEN 'accepted' WHEN revoked_at IS NOT NULL THEN 'revoked'"
    " WHEN expires_at <= now() THEN 'expired' ELSE 'pending' END AS status"
)
_PENDING = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()"


async def create_invitation(
    db: Database, org_id: uuid.UUID, *, email: str, role: InvitationRole, invited_by: uuid.UUID | None,
    ttl: timedelta,
) -> tuple[Invitation, str]:
    """Invite ``email`` into ``org_id``; returns the invitation and its raw token.

    A pending invitation of the same address to the same organization is revoked, so only the newest
    link works. Raises ``EmailTaken`` when the address already has an account: it could never accept.
    """
    raw, token_hash = new_token()
    async with db.transaction() as tx:
        if await tx.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", email):
            raise EmailTaken("this email address already has an account")
        await tx.execute(
            f"UPDATE invitations SET revoked_at = now() WHERE organization_id = $1"
            f" AND lower(email) = lower($2) AND {_PENDING}",
            org_id, email,
        )
        row = await fetch_one(
            tx,
            "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, expires_at)"
            f" VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING {_INVITATION_COLUMNS}",
            org_id, email, role, token_hash, invited_by, ttl,
        )
    return as_struct(row, Invitation), raw


async def list_invitations(db: Database, org_id: uuid.UUID, *, limit: int = 20, offset: int = 0) -> Page[Invitation]:
    """The organization's invitations, whatever their status, newest first. They are kept once accepted,
    revoked or expired, so the list grows: it is paged here."""
    check_window(limit, offset)
    total = await count_rows(db, "SELECT count(*) FROM invitations WHERE organization_id = $1", org_id)
    rows = await db.fetch(
        f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE organization_id = $1"
        " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        org_id, limit, offset,
    )
    return page([as_struct(r, Invitation) for r in rows], total, limit, offset)


async def revoke_invitation(db: Database, org_id: uuid.UUID, invitation_id: uuid.UUID) -> bool:
    """Revoke a pending invitation; False when there is no pending one with that id in ``org_id``."""
    status = await db.execute(
        f"UPDATE invitations SET revoked_at = now() WHERE id = $1 AND organization_id = $2 AND {_PENDING}",
        invitation_id, org_id,
    )
    return row_count(status) == 1


async def find_pending_invitation(db: Database, raw_token: str) -> tuple[Invitation, str] | None:
    """The pending invitation ``raw_token`` names and its organization's name, or None (unknown,
    expired, accepted or revoked). It changes nothing: this is what a page shows before accepting."""
    row = await db.fetchrow(
        f"SELECT {_INVITATION_COLUMNS}, (SELECT name FROM organizations o WHERE o.id = organization_id)"
        f" AS organization_name FROM invitations WHERE token_hash = $1 AND {_PENDING}",
        token_digest(raw_token),
    )
    if row is None:
        return None
    return as_struct(row, Invitation), row["organization_name"]  # the Struct ignores the extra column


async def accept_invitation(db: Database, raw_token: str, *, name: str, password_hash: str) -> User:
    """Create the invited user in the invitation's organization, with its role and the email verified
    (the token reached that mailbox). Raises ``InvalidInvitation`` or ``EmailTaken``; either way the
    invitation is left as it was."""
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            f"UPDATE invitations SET accepted_at = now() WHERE token_hash = $1 AND {_PENDING}"
            " RETURNING organization_id, email, role",
            token_digest(raw_token),
        )
        if row is None:
            raise InvalidInvitation("this invitation is unknown, expired, already accepted or revoked")
        return await insert_user(tx, row["organization_id"], email=row["email"], name=name,
                                  password_hash=password_hash, role=row["role"], verified=True)
