"""SQL for an organization's data as a whole (docs/privacy.md): reading all of it, kind by kind, for its
export, and deleting all of it.

It owns the list of kinds (one per table an organization owns, read from the migrations) and what each
leaves out: hashes, ciphertexts and report files never leave. The export reads through a server-side
cursor in one read-only snapshot, so a big organization streams in batches and never sits in memory. It
does not revoke providers' tokens (the API does that before deleting, while it can still read them).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence

from engine.store.database import Database
from engine.store.integrations import disconnect
from engine.store.listeners import LISTENERS_CHANNEL
from engine.store.privacy import forget_addresses

__all__ = ["EXPORT_KINDS", "delete_organization", "export_batches"]

_ORG = "x.organization_id = $org"


def _kind(source: str, where: str = _ORG, drop: Sequence[str] = ()) -> str:
    minus = "".join(f" - '{column}'" for column in drop)
    return f"SELECT (to_jsonb(x){minus})::text FROM {source} WHERE {where}"


def _by_campaign(table: str) -> str:
    return _kind(f"{table} x JOIN campaigns c ON c.id = x.campaign_id", "c.organization_id = $org")


def _by_track(table: str) -> str:
    return _kind(f"{table} x JOIN tracks t ON t.id = x.track_id", "t.organization_id = $org")


def _by_listener(table: str) -> str:
    return _kind(f"{table} x JOIN listener_accounts a ON a.id = x.listener_id", "a.organization_id = $org")


_SEALED_TOKENS = ("access_token_sealed", "refresh_token_sealed")

# The export's kinds, one JSON Lines file each; ``$org`` is the organization's id.
EXPORT_KINDS: dict[str, str] = {
    "organization": _kind("organizations x", "x.id = $org"),
    "members": _kind("users x", drop=("password_hash",)),
    "invitations": _kind("invitations x", drop=("token_hash",)),
    "tracks": _kind("tracks x"),
    "track_figures": _kind("track_figures x"),
    "campaigns": _kind("campaigns x"),
    "campaign_goals": _by_campaign("campaign_goals"),
    "campaign_daily_facts": _kind("campaign_daily_facts x"),
    "audiences": _kind("audiences x"),
    "rules": _kind("rules x"),
    "rule_runs": _kind("rule_runs x"),
    "rule_cooldowns": _by_campaign("rule_cooldowns"),
    "meta_writes": _kind("meta_writes x"),
    "alerts": _kind("alerts x"),
    "notifications": _kind("notifications x"),
    "webhook_endpoints": _kind("webhook_endpoints x", drop=("secret_sealed", "previous_secret_sealed")),
    "webhook_events": _kind("webhook_events x"),
    "webhook_deliveries": _kind("webhook_deliveries x"),
    "webhook_attempts": _kind("webhook_attempts x JOIN webhook_deliveries d ON d.id = x.delivery_id",
                              "d.organization_id = $org"),
    "integrations": _kind("integrations x", drop=_SEALED_TOKENS),
    "meta_ad_accounts": _kind("meta_ad_accounts x"),
    "sync_runs": _kind("sync_runs x"),
    "imports": _kind("imports x"),
    "report_exports": _kind("report_exports x", drop=("content",)),
    "stream_events": _kind("stream_events x"),
    "stream_days": _by_track("stream_days"),
    "track_report_days": _kind("track_report_days x"),
    "track_report_totals": _kind("track_report_totals x"),
    "artist_report_days": _kind("artist_report_days x"),
    "distributor_sales": _kind("distributor_sales x"),
    "listen_links": _kind("campaign_listen_links x"),
    "listeners": _kind("listener_accounts x", drop=_SEALED_TOKENS),
    "campaign_listeners": _by_listener("campaign_listeners"),
    "listener_plays": _by_listener("listener_plays"),
    "listener_consents": _kind("listener_consents x"),
    "emails": _kind("outbound_emails x"),
}


async def export_batches(db: Database, org_id: uuid.UUID, *, batch: int = 500
                         ) -> AsyncGenerator[tuple[str, list[str]], None]:
    """Each kind's rows as JSON texts, ``batch`` at a time: ``(kind, rows)``, kinds in ``EXPORT_KINDS``'
    order, every kind at least once (an empty list for none). One REPEATABLE READ snapshot, so the kinds
    agree with each other.

    Resource handling: the transaction stays open until the iterator ends; close it (``aclosing``) when
    leaving early.
    """
    literal = f"'{org_id}'::uuid"  # a cursor's query takes no bind parameters; a UUID's literal is safe
    async with db.transaction() as tx:
        await tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for kind, sql in EXPORT_KINDS.items():
            await tx.execute(f"DECLARE export_rows NO SCROLL CURSOR FOR {sql.replace('$org', literal)}")
            rows = [r[0] for r in await tx.fetch(f"FETCH {batch} FROM export_rows")]
            yield kind, rows
            while len(rows) == batch:
                rows = [r[0] for r in await tx.fetch(f"FETCH {batch} FROM export_rows")]
                yield kind, rows
            await tx.execute("CLOSE export_rows")


async def delete_organization(db: Database, org_id: uuid.UUID) -> list[uuid.UUID] | None:
    """Delete the organization and everything it owns; returns its members' ids (erased with it), or None
    when there is no such organization.

    In one transaction: its integrations are disconnected first so the account actors hear it at commit
    (``NOTIFY integrations``, and ``listener_accounts`` for the fans' actors); the mail, invitations and
    counters that name its members' addresses go (``forget_addresses``); then the row, and with it by
    ``ON DELETE CASCADE`` every row of the organization: members, sessions, webhook deliveries still
    pending (the dispatcher claims none of them after commit), fans, plays.
    """
    async with db.transaction() as tx:
        if await tx.fetchval("SELECT id FROM organizations WHERE id = $1 FOR UPDATE", org_id) is None:
            return None
        members = await tx.fetch("SELECT id, email FROM users WHERE organization_id = $1", org_id)
        for provider in ("meta", "spotify"):
            await disconnect(tx, org_id, provider)
        await tx.execute("SELECT pg_notify($1, $2)", LISTENERS_CHANNEL, str(org_id))
        await forget_addresses(tx, [m["email"] for m in members])
        await tx.execute("DELETE FROM rate_limit_counters WHERE key = $1", f"org:{org_id}")
        await tx.execute("DELETE FROM organizations WHERE id = $1", org_id)
    return [m["id"] for m in members]
