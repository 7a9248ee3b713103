"""SQL for sessions and their refresh tokens: opening one at login, rotating its refresh token exactly
once, the per-request check, listing and revoking.

It enforces that a refresh token is used once (a second use revokes the session) and that a token secret
is never stored, and no policy: token lifetimes and when to revoke belong to the caller. Functions that
touch one user's sessions take ``org_id`` and filter on it. It raises nothing of its own: outcomes are
values (``RotationResult``, ``None``, ``False``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from engine.store.accounts import USER_COLUMNS, Role, Tier, User
from engine.store.database import Connection, Database
from engine.store.rows import as_struct, fetch_one, maybe_struct, new_token, row_count, token_digest

__all__ = [
    "Invalid", "Reused", "Rotated", "RotationResult", "Session", "SessionCheck", "check_session",
    "create_session", "list_sessions", "revoke_all_sessions", "revoke_session", "rotate_refresh_token",
]  # fmt: skip

_SESSION_COLUMNS = "id, user_id, organization_id, created_at, last_used_at, expires_at, user_agent, ip"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None


class SessionCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The per-request view of a session: the user's *current* role and organization, so a demotion or
    a revocation takes effect at once rather than when the access token expires."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: Role
    tier: Tier
    email_verified: bool
    live: bool  # not revoked and not expired
    email: str = ""  # who is acting, for the audit log
    # What the profile shows besides the above, so ``GET /v1/auth/profile`` is the session check alone.
    name: str = ""
    created_at: datetime | None = None
    organization_name: str = ""


class Rotated(msgspec.Struct, frozen=True, kw_only=True):
    session: Session
    refresh_token: str  # the new raw token; the presented one is now used
    user: User


class Reused(msgspec.Struct, frozen=True, kw_only=True):
    """The token had been used before: presumed stolen, so its session is now revoked."""

    session_id: uuid.UUID
    user_id: uuid.UUID


class Invalid(msgspec.Struct, frozen=True, kw_only=True):
    """Unknown or expired token, or its session is revoked or expired."""


RotationResult = Rotated | Reused | Invalid



async def create_session(
    db: Database, *, user_id: uuid.UUID, org_id: uuid.UUID, refresh_ttl: timedelta,
    user_agent: str | None, ip: str | None,
) -> tuple[Session, str]:
    """Open a session for a login and issue its first refresh token; returns the raw token."""
    async with db.transaction() as tx:
        session = as_struct(
            await fetch_one(
                tx,
                "INSERT INTO sessions (user_id, organization_id, expires_at, user_agent, ip)"
                f" VALUES ($1, $2, now() + $3::interval, $4, $5) RETURNING {_SESSION_COLUMNS}",
                user_id, org_id, refresh_ttl, user_agent, ip,
            ),
            Session,
        )
        raw = await _issue_refresh_token(tx, session.id, refresh_ttl)
    return session, raw


async def _issue_refresh_token(tx: Connection, session_id: uuid.UUID, ttl: timedelta) -> str:
    raw, token_hash = new_token()
    await tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at)"
        " VALUES ($1, $2, now() + $3::interval)",
        token_hash, session_id, ttl,
    )
    return raw


async def rotate_refresh_token(db: Database, raw_token: str, refresh_ttl: timedelta) -> RotationResult:
    """Exchange a refresh token for a new one of the same session, exactly once.

    Returns ``Rotated`` (the session's expiry slides to the new token's), ``Invalid`` (unknown or expired
    token, or a dead session), or ``Reused``: the token was used before, so someone else holds a copy, and
    we revoke the whole session with reason ``refresh_token_reuse``. Of two concurrent rotations of one
    token, the conditional UPDATE lets exactly one win; the loser blocks on the row, then sees it used and
    takes the reuse path, since we cannot tell a race from a thief.
    """
    token_hash = token_digest(raw_token)
    async with db.transaction() as tx:
        session_id = await tx.fetchval(
            "UPDATE refresh_tokens t SET used_at = now() FROM sessions s"
            " WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()"
            "   AND s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > now()"
            " RETURNING t.session_id",
            token_hash,
        )
        if session_id is None:
            return await _rotation_refused(tx, token_hash)
        assert isinstance(session_id, uuid.UUID)
        raw = await _issue_refresh_token(tx, session_id, refresh_ttl)
        row = await fetch_one(
            tx,
            "UPDATE sessions SET last_used_at = now(),"
            " expires_at = greatest(expires_at, now() + $2::interval)"
            f" WHERE id = $1 RETURNING {_SESSION_COLUMNS}",
            session_id, refresh_ttl,
        )
        session = as_struct(row, Session)
        user = as_struct(
            await fetch_one(
                tx, f"SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND organization_id = $2",
                session.user_id, session.organization_id,
            ),
            User,
        )
    return Rotated(session=session, refresh_token=raw, user=user)


async def _rotation_refused(tx: Connection, token_hash: bytes) -> Reused | Invalid:
    row = await tx.fetchrow(
        "SELECT t.session_id, s.user_id, t.used_at IS NOT NULL AS used, t.expires_at > now() AS fresh"
        " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1",
        token_hash,
    )
    if row is None or not row["fresh"] or not row["used"]:
        return Invalid()
    await tx.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reuse'"
        " WHERE id = $1 AND revoked_at IS NULL",
        row["session_id"],
    )
    return Reused(session_id=row["session_id"], user_id=row["user_id"])


async def check_session(db: Database, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionCheck | None:
    """The session and its user's current role, organization and tier, or None when either is gone.

    It runs on every authenticated request: one statement on primary keys, which also brings what the
    profile shows (the user's name and sign-up time, the organization's name) so that read needs no
    statement of its own. It records that the session was used, at most once a minute, so that write
    does not happen on every request. The request quota is not counted here: see ``claim_from_counter``.
    """
    row = await db.fetchrow(
        "WITH touched AS ("
        "  UPDATE sessions SET last_used_at = now()"
        "  WHERE id = $1 AND user_id = $2 AND last_used_at < now() - interval '1 minute'"
        "    AND revoked_at IS NULL AND expires_at > now())"
        " SELECT s.id AS session_id, u.id AS user_id, u.organization_id, u.role, o.tier, u.email,"
        "  u.email_verified_at IS NOT NULL AS email_verified,"
        "  (s.revoked_at IS NULL AND s.expires_at > now()) AS live,"
        "  u.name, u.created_at, o.name AS organization_name"
        " FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = u.organization_id"
        " WHERE s.id = $1 AND s.user_id = $2",
        session_id, user_id,
    )
    return maybe_struct(row, SessionCheck)


async def list_sessions(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> list[Session]:
    """The user's live sessions, most recently used first."""
    rows = await db.fetch(
        f"SELECT {_SESSION_COLUMNS} FROM sessions"
        " WHERE user_id = $1 AND organization_id = $2 AND revoked_at IS NULL AND expires_at > now()"
        " ORDER BY last_used_at DESC, id",
        user_id, org_id,
    )
    return [as_struct(r, Session) for r in rows]


async def revoke_session(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID, reason: str
) -> bool:
    """Revoke one of the user's sessions; False when it is not theirs or was already revoked."""
    status = await db.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $4"
        " WHERE id = $1 AND user_id = $2 AND organization_id = $3 AND revoked_at IS NULL",
        session_id, user_id, org_id, reason,
    )
    return row_count(status) == 1


async def revoke_all_sessions(
    db: Database, user_id: uuid.UUID, reason: str, except_session: uuid.UUID | None = None
) -> int:
    """Revoke every unrevoked session of the user but ``except_session``; returns how many."""
    status = await db.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $2"
        " WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3",
        user_id, reason, except_session,
    )
    return row_count(status)
