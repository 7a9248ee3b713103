"""SQL for organizations, users, members, email tokens and rate-limit counters.

It enforces the invariants the schema alone cannot (an organization keeps an owner; a token secret is
never stored), and no policy: password rules and token lifetimes belong to the caller. Every function
that reads or changes rows of an organization takes its ``org_id`` and filters on it, so one tenant's
ids never reach another's rows. Timestamps come from the database's ``now()``; lifetimes are passed in
as ``timedelta`` (negative ones make expired rows). Sessions live in ``sessions.py``, invitations in
``invitations.py``. Errors::

    StoreError
     └── AccountError
          ├── EmailTaken          the address (any case) already has an account
          ├── LastOwner           the change would leave an organization without an owner
          └── InvalidInvitation   (invitations.py)

Module map: rows and errors, organizations and users, members, email tokens, rate-limit counters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from engine.store.database import Connection, Database
from engine.store.errors import StoreError
from engine.store.rows import as_struct, fetch_one, maybe_struct, new_token, row_count, token_digest

__all__ = [
    "AccountError", "EmailPurpose", "EmailTaken", "LastOwner", "Organization", "Role", "Tier", "User",
    "UserCredentials", "claim_from_counter", "clear_counter", "consume_email_token", "create_email_token",
    "create_organization_with_owner", "email_available", "get_credentials_by_email", "get_organization", "get_user",
    "hit_counter", "list_members", "mark_email_verified", "prune_counters", "recent_counts", "remove_member",
    "set_member_role", "set_password", "update_organization", "update_user_profile",
]  # fmt: skip

Role = Literal["owner", "admin", "member", "viewer"]
Tier = Literal["free", "starter", "professional", "enterprise"]
EmailPurpose = Literal["verify_email", "reset_password"]


# --- rows and errors ----------------------------------------------------------------------------------


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    tier: Tier
    created_at: datetime


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user as the API may show it: the password hash stays in ``UserCredentials``."""

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    name: str
    role: Role
    email_verified: bool
    created_at: datetime


class UserCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a login needs: the user, and the hash to verify the password against."""

    user: User
    password_hash: str


class AccountError(StoreError):
    """Base class of the account rules the store enforces."""


class EmailTaken(AccountError):
    """Another user already has this email address (compared case-insensitively)."""


class LastOwner(AccountError):
    """The change would leave the organization without an owner."""


# USER_COLUMNS and insert_user are shared with sessions.py and invitations.py, so they carry no
# underscore; they stay out of __all__ because nothing outside engine/store should need them.
USER_COLUMNS = (
    "id, organization_id, email, name, role, email_verified_at IS NOT NULL AS email_verified, created_at"
)
_ORG_COLUMNS = "id, name, tier, created_at"


@contextmanager
def _email_unique() -> Iterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "users_email_key":
            raise EmailTaken("this email address already has an account") from None
        raise


# --- organizations and users --------------------------------------------------------------------------


async def create_organization_with_owner(
    db: Database, *, org_name: str, email: str, name: str, password_hash: str, tier: Tier = "free"
) -> tuple[Organization, User]:
    """Create an organization on ``tier`` and its first user, its owner, in one transaction. Raises
    ``EmailTaken``."""
    async with db.transaction() as tx:
        org = as_struct(
            await fetch_one(tx, f"INSERT INTO organizations (name, tier) VALUES ($1, $2) RETURNING {_ORG_COLUMNS}",
                            org_name, tier),
            Organization,
        )
        user = await insert_user(tx, org.id, email=email, name=name, password_hash=password_hash,
                                 role="owner", verified=False)
    return org, user


async def insert_user(
    tx: Connection, org_id: uuid.UUID, *, email: str, name: str, password_hash: str, role: Role,
    verified: bool,
) -> User:
    """Insert a user inside the caller's transaction. Raises ``EmailTaken``."""
    with _email_unique():
        row = await fetch_one(
            tx,
            "INSERT INTO users (organization_id, email, name, password_hash, role, email_verified_at)"
            " VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)"
            f" RETURNING {USER_COLUMNS}",
            org_id, email, name, password_hash, role, verified,
        )
    return as_struct(row, User)


async def get_credentials_by_email(db: Database, email: str) -> UserCredentials | None:
    """The user with ``email`` (any case) and their password hash, or None."""
    row = await db.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email
    )
    if row is None:
        return None
    fields = dict(row)
    password_hash = fields.pop("password_hash")
    return UserCredentials(user=msgspec.convert(fields, User), password_hash=password_hash)


async def get_user(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    row = await db.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND organization_id = $2", user_id, org_id
    )
    return maybe_struct(row, User)


async def update_user_profile(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, *, name: str | None = None,
    email: str | None = None,
) -> User | None:
    """Change the name and/or email; None when the user is not in ``org_id``. Raises ``EmailTaken``.

    A new address (not just a change of case) is unverified, and the user's outstanding email tokens are
    deleted: a verification link sent to the old address must not verify the new one.
    """
    async with db.transaction() as tx:
        old = await tx.fetchval(
            "SELECT email FROM users WHERE id = $1 AND organization_id = $2 FOR UPDATE", user_id, org_id
        )
        if old is None:
            return None
        changed = email is not None and email.lower() != str(old).lower()
        with _email_unique():
            row = await fetch_one(
                tx,
                "UPDATE users SET name = coalesce($2, name), email = coalesce($3, email),"
                " email_verified_at = CASE WHEN $4 THEN NULL ELSE email_verified_at END, updated_at = now()"
                f" WHERE id = $1 RETURNING {USER_COLUMNS}",
                user_id, name, email, changed,
            )
        if changed:
            await tx.execute("DELETE FROM email_tokens WHERE user_id = $1 AND used_at IS NULL", user_id)
    return as_struct(row, User)


async def set_password(db: Database, user_id: uuid.UUID, password_hash: str) -> bool:
    """Store a new hash; False when the user does not exist. Sessions are the caller's to revoke."""
    status = await db.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", user_id, password_hash
    )
    return row_count(status) == 1


async def mark_email_verified(db: Database, user_id: uuid.UUID) -> bool:
    """Mark the email verified (keeping the first verification time); False when there is no such user."""
    status = await db.execute(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()"
        " WHERE id = $1",
        user_id,
    )
    return row_count(status) == 1


async def email_available(db: Database, email: str) -> bool:
    """Whether no user has ``email``, in any case. Advisory: inserts still raise ``EmailTaken`` on a race."""
    taken = await db.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", email)
    return taken is False


async def get_organization(db: Database, org_id: uuid.UUID) -> Organization | None:
    row = await db.fetchrow(f"SELECT {_ORG_COLUMNS} FROM organizations WHERE id = $1", org_id)
    return maybe_struct(row, Organization)


async def update_organization(
    db: Database, org_id: uuid.UUID, *, name: str | None = None, tier: Tier | None = None
) -> Organization | None:
    """Change the name and/or tier; None when there is no such organization."""
    row = await db.fetchrow(
        "UPDATE organizations SET name = coalesce($2, name), tier = coalesce($3, tier), updated_at = now()"
        f" WHERE id = $1 RETURNING {_ORG_COLUMNS}",
        org_id, name, tier,
    )
    return maybe_struct(row, Organization)


# --- members ------------------------------------------------------------------------------------------


async def list_members(db: Database, org_id: uuid.UUID) -> list[User]:
    """The organization's users, oldest first."""
    rows = await db.fetch(
        f"SELECT {USER_COLUMNS} FROM users WHERE organization_id = $1 ORDER BY created_at, id", org_id
    )
    return [as_struct(r, User) for r in rows]


async def _lock_member(tx: Connection, org_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Role, int] | None:
    """The member's role and the organization's owner count, or None when the user is not a member.

    We lock the organization row first, so every membership change of one organization runs one at a
    time: two owners demoting each other at once cannot both see "there is another owner".
    """
    await tx.execute("SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE", org_id)
    row = await tx.fetchrow(
        "SELECT role, (SELECT count(*) FROM users WHERE organization_id = $1 AND role = 'owner') AS owners"
        " FROM users WHERE id = $2 AND organization_id = $1",
        org_id, user_id,
    )
    return None if row is None else (row["role"], row["owners"])


async def set_member_role(db: Database, org_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> User | None:
    """Give a member ``role``; None when the user is not in ``org_id``. Raises ``LastOwner``."""
    async with db.transaction() as tx:
        member = await _lock_member(tx, org_id, user_id)
        if member is None:
            return None
        if member == ("owner", 1) and role != "owner":
            raise LastOwner("an organization needs at least one owner")
        row = await fetch_one(
            tx,
            f"UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",
            user_id, role,
        )
    return as_struct(row, User)


async def remove_member(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Delete a member with their sessions and tokens; False when not in ``org_id``. Raises ``LastOwner``."""
    async with db.transaction() as tx:
        member = await _lock_member(tx, org_id, user_id)
        if member is None:
            return False
        if member == ("owner", 1):
            raise LastOwner("an organization needs at least one owner")
        await tx.execute("DELETE FROM users WHERE id = $1", user_id)
    return True


# --- email tokens -------------------------------------------------------------------------------------


async def create_email_token(db: Database, user_id: uuid.UUID, purpose: EmailPurpose, ttl: timedelta) -> str:
    """A new single-use token for ``purpose``; the user's earlier tokens of that purpose stop working."""
    raw, token_hash = new_token()
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2", user_id, purpose)
        await tx.execute(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at)"
            " VALUES ($1, $2, $3, now() + $4::interval)",
            token_hash, user_id, purpose, ttl,
        )
    return raw


async def consume_email_token(db: Database, raw: str, purpose: EmailPurpose) -> uuid.UUID | None:
    """Use a token up: its user's id, or None when it is unknown, of another purpose, used or expired."""
    user_id = await db.fetchval(
        "UPDATE email_tokens SET used_at = now()"
        " WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()"
        " RETURNING user_id",
        token_digest(raw), purpose,
    )
    assert user_id is None or isinstance(user_id, uuid.UUID)
    return user_id


# --- rate-limit counters ------------------------------------------------------------------------------


async def hit_counter(db: Database, key: str, window_start: datetime) -> int:
    """Count one hit for ``key`` in the window starting at ``window_start``; returns the window's total."""
    count = await db.fetchval(
        "INSERT INTO rate_limit_counters (key, window_start, count) VALUES ($1, $2, 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1"
        " RETURNING count",
        key, window_start,
    )
    assert isinstance(count, int)
    return count


async def claim_from_counter(
    db: Database, key: str, window_start: datetime, *, want: int, limit: int
) -> tuple[int, int]:
    """Take up to ``want`` of the ``limit`` hits ``key`` may have in the window starting at ``window_start``:
    returns (the number of the first hit taken, how many were taken; 0 once the window is spent).

    The counter holds what was claimed, not what was served: claims by every process add up in it, so
    together they never pass ``limit``. A claim on a spent window writes nothing.
    """
    claimed = await db.fetchval(
        "INSERT INTO rate_limit_counters (key, window_start, count) VALUES ($1, $2, $3)"
        " ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + $3"
        " WHERE rate_limit_counters.count < $4"
        " RETURNING count",
        key, window_start, want, limit,
    )
    if claimed is None:
        return limit + 1, 0
    assert isinstance(claimed, int)
    before = claimed - want
    return before + 1, max(0, min(want, limit - before))


async def recent_counts(db: Database, keys: Sequence[str], since: datetime) -> list[tuple[str, datetime, int]]:
    """The windows of ``keys`` that started after ``since``, oldest first: (key, start, count)."""
    rows = await db.fetch(
        "SELECT key, window_start, count FROM rate_limit_counters WHERE key = ANY($1) AND window_start > $2"
        " ORDER BY window_start",
        list(keys), since,
    )
    return [(row["key"], row["window_start"], row["count"]) for row in rows]


async def clear_counter(db: Database, key: str) -> None:
    """Forget every window of ``key``."""
    await db.execute("DELETE FROM rate_limit_counters WHERE key = $1", key)


async def prune_counters(db: Database, before: datetime) -> int:
    """Delete the windows that started before ``before``; returns how many."""
    return row_count(await db.execute("DELETE FROM rate_limit_counters WHERE window_start < $1", before))
