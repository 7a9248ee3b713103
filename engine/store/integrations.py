"""SQL for connected provider accounts (``integrations``) and pending OAuth logins (``oauth_states``).

It enforces that tokens reach the database only sealed (``engine.secrets_box``, bound to their row by
``org:provider:account:field``), that a state's secret is stored only as its SHA-256 digest, and that a
state is consumed once and before it expires. Every integration function takes ``org_id`` and filters on
it (except ``accounts_of``, the engine's view across organizations). Disconnecting deletes the row, so its
tokens go with it. Outcomes are values (``None``, counts); ``open_tokens`` may raise ``SealError`` for a row
whose ciphertext was tampered with.

Every change of an integration's existence or status (connect, re-connect, ``needs_reauth``, disconnect)
sends ``NOTIFY integrations`` in the caller's transaction, so it is delivered at commit. The payload is
a wake-up, not a record: ``{"organization_id": "<uuid>", "provider": "meta", "event":
"connected" | "needs_reauth" | "disconnected"}``; a listener re-reads the table (and polls as a fallback).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from engine.secrets_box import open_, seal
from engine.store.catalog_common import atomic
from engine.store.outbox import enqueue_event
from engine.store.rows import Queries, as_struct, fetch_one, maybe_struct, row_count, token_digest

__all__ = [
    "INTEGRATIONS_CHANNEL", "Integration", "IntegrationStatus", "OAuthState", "Provider", "StatePurpose", "Tokens",
    "accounts_of", "consume_oauth_state", "default_pixel", "disconnect", "get_integration", "get_tokens",
    "list_integrations", "mark_needs_reauth", "replace_tokens", "save_oauth_state", "seal_access_token",
    "set_default_pixel", "upsert_integration",
]  # fmt: skip

Provider = Literal["meta", "spotify"]
IntegrationStatus = Literal["connected", "needs_reauth", "disconnected"]

_COLUMNS = ("id, organization_id, provider, external_account_id, display_name, status, token_expires_at, scopes,"
            " connected_by, created_at, updated_at")


class Integration(msgspec.Struct, frozen=True, kw_only=True):
    """A connected account as anyone may see it: no tokens."""

    id: uuid.UUID
    organization_id: uuid.UUID
    provider: Provider
    external_account_id: str
    display_name: str
    status: IntegrationStatus
    token_expires_at: datetime | None
    scopes: list[str]
    connected_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    """The opened tokens of one integration, for the code that calls the provider. Never log it."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"Tokens(<hidden>, expires_at={self.expires_at!r})"


class OAuthState(msgspec.Struct, frozen=True, kw_only=True):
    """A consumed login state: whose login it was and, for PKCE, the opened code verifier.

    A member's connect names its ``user_id``; a fan's listener opt-in has no user and names the
    ``campaign_id`` instead (``purpose="listener"``).
    """

    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    provider: Provider
    code_verifier: str | None
    redirect_uri: str
    campaign_id: uuid.UUID | None = None


# Which logins a callback may consume: a connect callback must never accept a fan's listener state (it
# would connect the fan's account as the organization's), nor the other way round.
StatePurpose = Literal["connect", "listener"]
_PURPOSE_SQL: dict[StatePurpose, str] = {"connect": "campaign_id IS NULL", "listener": "campaign_id IS NOT NULL"}


INTEGRATIONS_CHANNEL = "integrations"


async def _notify(q: Queries, org_id: uuid.UUID, provider: str, event: str) -> None:
    payload = msgspec.json.encode({"organization_id": org_id, "provider": provider, "event": event}).decode()
    await q.execute("SELECT pg_notify($1, $2)", INTEGRATIONS_CHANNEL, payload)


def _aad(org_id: uuid.UUID, provider: str, account: str, field: str) -> str:
    return f"{org_id}:{provider}:{account}:{field}"


def seal_access_token(key: bytes, org_id: uuid.UUID, provider: Provider, external_account_id: str,
                      access_token: str) -> str:
    """``access_token`` sealed for the row of ``org_id``'s ``external_account_id`` (``upsert_integration``
    stores it so; a benchmark inserting thousands of rows at once seals them the same way)."""
    return seal(key, access_token, _aad(org_id, provider, external_account_id, "access_token"))


async def upsert_integration(
    q: Queries, key: bytes, *, org_id: uuid.UUID, provider: Provider, external_account_id: str,
    display_name: str, access_token: str, refresh_token: str | None, token_expires_at: datetime | None,
    scopes: list[str], connected_by: uuid.UUID | None,
) -> Integration:
    """Store a (re)connected account with fresh sealed tokens; status becomes ``connected``, and
    ``integration.connected`` is enqueued in the same transaction (``q``'s when it is one)."""
    access = seal_access_token(key, org_id, provider, external_account_id, access_token)
    refresh = None if refresh_token is None else seal(
        key, refresh_token, _aad(org_id, provider, external_account_id, "refresh_token"))
    async with atomic(q) as tx:
        row = await _upsert(tx, org_id, provider, external_account_id, display_name, access, refresh,
                            token_expires_at, scopes, connected_by)
        await _notify(tx, org_id, provider, "connected")
        integration = as_struct(row, Integration)
        await enqueue_event(tx, org_id, "integration.connected", {
            "integrationId": integration.id, "provider": provider, "externalAccountId": external_account_id,
            "displayName": display_name, "scopes": scopes})
    return integration


async def _upsert(q: Queries, *args: object) -> asyncpg.Record:
    return await fetch_one(
        q, "INSERT INTO integrations (organization_id, provider, external_account_id, display_name, status,"
           " access_token_sealed, refresh_token_sealed, token_expires_at, scopes, connected_by)"
           " VALUES ($1, $2, $3, $4, 'connected', $5, $6, $7, $8, $9)"
           " ON CONFLICT (organization_id, provider, external_account_id) DO UPDATE SET"
           " display_name = EXCLUDED.display_name, status = 'connected',"
           " access_token_sealed = EXCLUDED.access_token_sealed, refresh_token_sealed = EXCLUDED.refresh_token_sealed,"
           " token_expires_at = EXCLUDED.token_expires_at, scopes = EXCLUDED.scopes,"
           f" connected_by = EXCLUDED.connected_by, updated_at = now() RETURNING {_COLUMNS}",
        *args)


async def list_integrations(q: Queries, org_id: uuid.UUID) -> list[Integration]:
    rows = await q.fetch(f"SELECT {_COLUMNS} FROM integrations WHERE organization_id = $1"
                         " ORDER BY provider, created_at", org_id)
    return [as_struct(row, Integration) for row in rows]


async def accounts_of(q: Queries, provider: Provider) -> list[Integration]:
    """Every organization's accounts of ``provider``, whatever their status (the engine's view: it runs
    one actor per connected account and shows the others' status)."""
    rows = await q.fetch(f"SELECT {_COLUMNS} FROM integrations WHERE provider = $1 ORDER BY created_at, id", provider)
    return [as_struct(row, Integration) for row in rows]


async def get_integration(q: Queries, org_id: uuid.UUID, provider: Provider) -> Integration | None:
    """The organization's most recently updated account of ``provider``, or ``None``."""
    row = await q.fetchrow(f"SELECT {_COLUMNS} FROM integrations WHERE organization_id = $1 AND provider = $2"
                           " ORDER BY updated_at DESC LIMIT 1", org_id, provider)
    return maybe_struct(row, Integration)


async def default_pixel(q: Queries, org_id: uuid.UUID, integration_id: uuid.UUID) -> str | None:
    """The pixel the integration's conversion events go to when a request names none, if one was chosen."""
    value = await q.fetchval("SELECT default_pixel_id FROM integrations WHERE organization_id = $1 AND id = $2",
                             org_id, integration_id)
    return None if value is None else str(value)


async def set_default_pixel(q: Queries, org_id: uuid.UUID, integration_id: uuid.UUID, pixel_id: str) -> bool:
    """Choose the integration's default pixel; ``False`` when there is no such integration."""
    status = await q.execute("UPDATE integrations SET default_pixel_id = $3 WHERE organization_id = $1 AND id = $2",
                             org_id, integration_id, pixel_id)
    return row_count(status) == 1


async def get_tokens(q: Queries, key: bytes, org_id: uuid.UUID, integration_id: uuid.UUID, *,
                     for_update: bool = False) -> Tokens | None:
    """The opened tokens of one integration of ``org_id``; raises ``SealError`` if they were tampered with.

    ``for_update`` locks the row until the transaction ends, so that one refresh at a time rotates them.
    """
    row = await q.fetchrow(
        "SELECT provider, external_account_id, access_token_sealed, refresh_token_sealed, token_expires_at"
        " FROM integrations WHERE organization_id = $1 AND id = $2" + (" FOR UPDATE" if for_update else ""),
        org_id, integration_id)
    if row is None:
        return None
    aad = _aad(org_id, row["provider"], row["external_account_id"], "{}")
    sealed_refresh = row["refresh_token_sealed"]
    return Tokens(access_token=open_(key, row["access_token_sealed"], aad.format("access_token")),
                  refresh_token=None if sealed_refresh is None else open_(key, sealed_refresh,
                                                                          aad.format("refresh_token")),
                  expires_at=row["token_expires_at"])


async def replace_tokens(q: Queries, key: bytes, integration: Integration, *, access_token: str,
                         refresh_token: str | None, token_expires_at: datetime | None) -> bool:
    """Store refreshed tokens (a rotated refresh token included); False if the account was disconnected."""
    aad = _aad(integration.organization_id, integration.provider, integration.external_account_id, "{}")
    refresh = None if refresh_token is None else seal(key, refresh_token, aad.format("refresh_token"))
    status = await q.execute(
        "UPDATE integrations SET access_token_sealed = $3, refresh_token_sealed = $4, token_expires_at = $5,"
        " updated_at = now() WHERE organization_id = $1 AND id = $2", integration.organization_id, integration.id,
        seal(key, access_token, aad.format("access_token")), refresh, token_expires_at)
    return row_count(status) == 1


async def mark_needs_reauth(q: Queries, org_id: uuid.UUID, integration_id: uuid.UUID, *, reason: str) -> bool:
    """Move a connected integration to ``needs_reauth`` and enqueue ``integration.needs_reauth`` with
    ``reason`` (a provider's error, never a token), in one transaction (``q``'s when it is one). The one
    way an integration gets there: every actor and route that sees a token refused calls it.

    Returns True on the transition only: an integration already ``needs_reauth`` (a retry, a second
    caller seeing the same refusal) or not the organization's changes nothing and sends nothing.
    """
    async with atomic(q) as tx:
        row = await tx.fetchrow(
            "UPDATE integrations SET status = 'needs_reauth', updated_at = now()"
            " WHERE organization_id = $1 AND id = $2 AND status <> 'needs_reauth'"
            " RETURNING provider, external_account_id", org_id, integration_id)
        if row is None:
            return False
        await _notify(tx, org_id, row["provider"], "needs_reauth")
        await enqueue_event(tx, org_id, "integration.needs_reauth", {
            "integrationId": integration_id, "provider": row["provider"],
            "externalAccountId": row["external_account_id"], "reason": reason})
    return True


async def disconnect(q: Queries, org_id: uuid.UUID, provider: Provider) -> int:
    """Delete the organization's accounts of ``provider`` (and their tokens); returns how many."""
    status = await q.execute("DELETE FROM integrations WHERE organization_id = $1 AND provider = $2",
                             org_id, provider)
    removed = row_count(status)
    if removed:
        await _notify(q, org_id, provider, "disconnected")
    return removed


async def save_oauth_state(
    q: Queries, key: bytes, *, state: str, org_id: uuid.UUID, user_id: uuid.UUID | None, provider: Provider,
    code_verifier: str | None, redirect_uri: str, ttl: timedelta, campaign_id: uuid.UUID | None = None,
) -> None:
    """Remember a login started with the secret ``state`` (stored as its digest) for ``ttl``.

    A member's login gives ``user_id``; a fan's listener opt-in gives ``campaign_id`` and no user.
    """
    digest = token_digest(state)
    verifier = None if code_verifier is None else seal(key, code_verifier, f"oauth_state:{digest.hex()}")
    await q.execute("INSERT INTO oauth_states (state_hash, organization_id, user_id, provider, code_verifier_sealed,"
                    " redirect_uri, expires_at, campaign_id) VALUES ($1, $2, $3, $4, $5, $6, now() + $7, $8)",
                    digest, org_id, user_id, provider, verifier, redirect_uri, ttl, campaign_id)


async def consume_oauth_state(q: Queries, key: bytes, state: str, provider: Provider, *,
                              purpose: StatePurpose = "connect") -> OAuthState | None:
    """Use ``state`` once: ``None`` if unknown, for another provider or purpose, expired or already used."""
    digest = token_digest(state)
    row = await q.fetchrow(
        "UPDATE oauth_states SET used_at = now() WHERE state_hash = $1 AND provider = $2 AND used_at IS NULL"
        f" AND expires_at > now() AND {_PURPOSE_SQL[purpose]}"
        " RETURNING organization_id, user_id, provider, code_verifier_sealed, redirect_uri, campaign_id",
        digest, provider)
    if row is None:
        return None
    sealed = row["code_verifier_sealed"]
    verifier = None if sealed is None else open_(key, sealed, f"oauth_state:{digest.hex()}")
    return OAuthState(organization_id=row["organization_id"], user_id=row["user_id"], provider=row["provider"],
                      code_verifier=verifier, redirect_uri=row["redirect_uri"], campaign_id=row["campaign_id"])
