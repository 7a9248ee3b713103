"""SQL for one person's data (docs/privacy.md): everything we hold about a user, as one JSON document, and
erasing them.

It owns which rows name a user (read from the migrations: every column that references ``users``, the
addresses we mail, the JSON that records who acted) and what erasure does to each: rows that are the
person's own go, rows the organization keeps lose the person's id (set to null by the foreign keys, or
in JSON by ``scrub_user_ids``). Secrets never leave: the export drops every hash and ciphertext. Whether
the caller may erase (their password) is the API's; the organization keeping an owner is checked here.
Errors::

    StoreError
     └── AccountError
          └── ErasureBlocked(reason)   "last_owner": others remain; "only_member": no one else remains
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from engine.store import audit_log
from engine.store.accounts import AccountError
from engine.store.database import Connection, Database
from engine.store.rows import Queries

__all__ = ["BlockReason", "ErasureBlocked", "erase_user", "forget_addresses", "scrub_user_ids", "user_export"]

BlockReason = Literal["last_owner", "only_member"]


class ErasureBlocked(AccountError):
    """The user is the organization's last owner: ``reason`` says whether anyone else remains."""

    def __init__(self, reason: BlockReason) -> None:
        super().__init__(reason)
        self.reason: BlockReason = reason


def _rows(source: str, order: str, drop: Sequence[str] = ()) -> str:
    """A JSON array of ``source``'s rows (aliased ``x``), oldest first, without the ``drop`` columns."""
    minus = "".join(f" - '{column}'" for column in drop)
    return f"(SELECT coalesce(jsonb_agg(to_jsonb(x){minus} ORDER BY {order}), '[]') FROM {source})"


# $1 the user, $2 their organization, $3 their address. Each section lists what the schema ties to them.
_SECTIONS: dict[str, str] = {
    "profile": "(SELECT to_jsonb(x) - 'password_hash' FROM users x WHERE x.id = $1)",
    "memberships": "(SELECT jsonb_agg(jsonb_build_object('organizationId', o.id, 'organizationName', o.name,"
                   " 'role', u.role, 'since', u.created_at)) FROM users u JOIN organizations o"
                   " ON o.id = u.organization_id WHERE u.id = $1)",
    "sessions": _rows("sessions x WHERE x.user_id = $1", "x.created_at"),
    "emailTokens": _rows("email_tokens x WHERE x.user_id = $1", "x.created_at", ["token_hash"]),
    "oauthLogins": _rows("oauth_states x WHERE x.user_id = $1", "x.created_at",
                         ["state_hash", "code_verifier_sealed"]),
    "invitationsSent": _rows("invitations x WHERE x.invited_by = $1", "x.created_at", ["token_hash"]),
    "invitationsReceived": _rows("invitations x WHERE lower(x.email) = lower($3)", "x.created_at", ["token_hash"]),
    "emails": _rows("outbound_emails x WHERE lower(x.to_address) = lower($3)", "x.created_at"),
    "notifications": _rows("notifications x WHERE x.organization_id = $2", "x.created_at"),
    "ruleActions": _rows("rule_runs x WHERE x.user_id = $1", "x.seq"),
    "rulesCreated": _rows("rules x WHERE x.created_by = $1", "x.created_at"),
    "campaignsPausedByYou": _rows(
        "(SELECT id, name, status, paused_reason FROM campaigns WHERE organization_id = $2"
        " AND paused_reason -> 'cause' ->> 'userId' = $1::text) x", "x.id"),
    "metaWritesCausedByYou": _rows("meta_writes x WHERE x.organization_id = $2 AND x.cause ->> 'userId' = $1::text",
                                   "x.id"),
    "integrationsConnected": _rows("integrations x WHERE x.connected_by = $1", "x.created_at",
                                   ["access_token_sealed", "refresh_token_sealed"]),
    "syncRunsRequested": _rows("sync_runs x WHERE x.requested_by = $1", "x.started_at"),
    "importsRequested": _rows("imports x WHERE x.requested_by = $1", "x.created_at"),
    "reportExportsRequested": _rows("report_exports x WHERE x.requested_by = $1", "x.created_at", ["content"]),
    "webhookEventsNamingYou": _rows(
        "webhook_events x WHERE x.organization_id = $2 AND x.payload::text LIKE '%' || $1::text || '%'",
        "x.created_at"),
}  # fmt: skip

_EXPORT = ("SELECT jsonb_build_object('exportedAt', now(), "
           + ", ".join(f"'{name}', {sql}" for name, sql in _SECTIONS.items()) + ")::text")

# JSON columns that record which member acted (``PauseCause``'s ``userId``), by table; each table has an
# organization_id, so a scrub reads only the erased person's organization.
_JSON_NAMING_USERS: dict[str, tuple[str, ...]] = {
    "campaigns": ("paused_reason",),
    "meta_writes": ("cause",),
    "webhook_events": ("payload",),
    "rule_runs": ("inputs", "action", "before", "after", "meta"),
}


async def user_export(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> bytes | None:
    """The export as JSON text (docs/privacy.md lists its sections), or None when the user is not in
    ``org_id``. One statement, so the sections agree with each other."""
    email = await db.fetchval("SELECT email FROM users WHERE id = $1 AND organization_id = $2", user_id, org_id)
    if not isinstance(email, str):
        return None
    text = await db.fetchval(_EXPORT, user_id, org_id, email)
    assert isinstance(text, str)
    return text.encode()


async def erase_user(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Erase the user: False when not in ``org_id``; raises ``ErasureBlocked`` for a last owner.

    Deleting the row ends every session (sessions, refresh and email tokens and pending logins go with it,
    so their access tokens fail the session check at once); the organization's rows that named them as
    an actor keep the fact without the person (ids nulled by ``ON DELETE SET NULL``, or in JSON by
    ``scrub_user_ids``). The mail we sent them, invitations to their address and rate-limit counters
    keyed by it are deleted (``forget_addresses``).
    """
    async with db.transaction() as tx:
        # The organization row first, as every membership change locks it: owners count one at a time.
        await tx.execute("SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE", org_id)
        row = await tx.fetchrow(
            "SELECT email, role, (SELECT count(*) FROM users WHERE organization_id = $1) AS members,"
            " (SELECT count(*) FROM users WHERE organization_id = $1 AND role = 'owner') AS owners"
            " FROM users WHERE id = $2 AND organization_id = $1", org_id, user_id)
        if row is None:
            return False
        if row["members"] == 1:
            raise ErasureBlocked("only_member")
        if row["role"] == "owner" and row["owners"] == 1:
            raise ErasureBlocked("last_owner")
        await scrub_user_ids(tx, org_id, [user_id])
        await forget_addresses(tx, [row["email"]])
        await tx.execute("DELETE FROM users WHERE id = $1", user_id)
        await audit_log.forget_user(tx, org_id, user_id, row["email"])  # last: the erasure's own rows too
    return True


async def scrub_user_ids(tx: Connection, org_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> None:
    """Replace every JSON string equal to one of ``user_ids`` by null in the organization's JSON columns
    that record who acted: the fact stays, the person does not. (Object keys are never user ids there.)"""
    for user_id in user_ids:
        quoted = f'"{user_id}"'
        for table, columns in _JSON_NAMING_USERS.items():
            for column in columns:
                await tx.execute(
                    f"UPDATE {table} SET {column} = replace({column}::text, $2, 'null')::jsonb"
                    f" WHERE organization_id = $1 AND strpos({column}::text, $2) > 0", org_id, quoted)


async def forget_addresses(q: Queries, emails: Sequence[str]) -> None:
    """Delete what names these addresses outside the users table: mail sent to them, invitations to them,
    the sign-in limiter's counters of them (keys ending ``:email:<address>``)."""
    lowered = [e.lower() for e in emails]
    await q.execute("DELETE FROM outbound_emails WHERE lower(to_address) = ANY($1::text[])", lowered)
    await q.execute("DELETE FROM invitations WHERE lower(email) = ANY($1::text[])", lowered)
    await q.execute("DELETE FROM rate_limit_counters WHERE substring(key from ':email:(.*)$') = ANY($1::text[])",
                    lowered)
