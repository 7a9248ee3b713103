"""SQL for the outgoing-mail log: every email the service sends, whether or not it left the building.

It is the audit trail, and in development the dev mailbox (``list_emails``) from which a person follows
verification and reset links by hand. Sending is ``engine.mailer``'s business, not this module's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from engine.store.database import Database

__all__ = ["OutboundEmail", "list_emails", "mark_email_failed", "mark_email_sent", "record_email"]

_COLUMNS = "id, organization_id, to_address, subject, body, created_at, sent_at, error"


class OutboundEmail(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID | None  # None for mail about no organization yet
    to_address: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None  # None: not sent (yet), failed, or no SMTP server configured
    error: str | None


async def record_email(
    db: Database, *, to: str, subject: str, body: str, org_id: uuid.UUID | None
) -> uuid.UUID:
    """Log an email before it is sent; returns its id for ``mark_email_sent``/``mark_email_failed``."""
    email_id = await db.fetchval(
        "INSERT INTO outbound_emails (organization_id, to_address, subject, body)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        org_id, to, subject, body,
    )
    assert isinstance(email_id, uuid.UUID)
    return email_id


async def mark_email_sent(db: Database, email_id: uuid.UUID) -> None:
    await db.execute("UPDATE outbound_emails SET sent_at = now(), error = NULL WHERE id = $1", email_id)


async def mark_email_failed(db: Database, email_id: uuid.UUID, error: str) -> None:
    await db.execute("UPDATE outbound_emails SET error = $2 WHERE id = $1", email_id, error)


async def list_emails(db: Database, *, to: str | None = None, limit: int = 50) -> list[OutboundEmail]:
    """The newest ``limit`` emails, newest first; only those to ``to`` (in any case) when given."""
    if to is None:
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM outbound_emails ORDER BY created_at DESC, id LIMIT $1", limit
        )
    else:
        # lower(to_address) matches the (lower(to_address), created_at DESC) index.
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM outbound_emails WHERE lower(to_address) = lower($1)"
            " ORDER BY created_at DESC, id LIMIT $2",
            to, limit,
        )
    return [msgspec.convert(dict(r), OutboundEmail) for r in rows]
