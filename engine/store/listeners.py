"""SQL for the listener opt-in: a campaign's public link (``campaign_listen_links``), the fans' Spotify
accounts (``listener_accounts``) and which campaigns they opted in to (``campaign_listeners``).

Tokens reach the database only sealed (``engine.secrets_box``), bound to their row by the integrations'
convention ``org:provider:account:field`` with ``spotify-listener`` as the provider, so a fan's ciphertext
never opens as an integration's. Every function that a member reaches takes ``org_id`` and filters on it;
``link_target`` alone is keyed by the public token, for the anonymous fan. It does not call Spotify.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from engine.secrets_box import open_, seal
from engine.store.catalog_common import Page, Where, atomic, check_window, count_rows, like_pattern, page
from engine.store.integrations import Tokens
from engine.store.rows import Queries, as_struct, fetch_one, maybe_struct, row_count

__all__ = [
    "LISTENERS_CHANNEL", "CampaignListener", "LinkTarget", "ListenLink", "ListenerStatus", "create_listen_link",
    "get_campaign_target", "get_listen_link", "link_target", "list_campaign_listeners", "listener_tokens",
    "mark_listener_needs_reauth", "opt_in", "remove_from_campaign", "replace_listener_tokens", "revoke_listen_link",
]  # fmt: skip

LISTENERS_CHANNEL = "listener_accounts"  # NOTIFYed when a fan opts in: the engine starts polling them

ListenerStatus = Literal["connected", "needs_reauth"]
_PROVIDER = "spotify-listener"  # the provider part of the AAD: a fan's tokens, not the organization's
_TOKEN_BYTES = 24  # 32 URL-safe characters: unguessable, and short enough to share


class ListenLink(msgspec.Struct, frozen=True, kw_only=True):
    campaign_id: uuid.UUID
    token: str
    created_at: datetime


class LinkTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The campaign a public link (or a pending opt-in) leads to."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    campaign_status: str


class CampaignListener(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A fan's account as members see it: no tokens."""

    id: uuid.UUID
    spotify_user_id: str
    display_name: str
    status: ListenerStatus
    opted_in_at: datetime


def _listener(row: asyncpg.Record) -> CampaignListener:
    # Keyword construction: convert() would expect the camelCase names of the API.
    return CampaignListener(**dict(row))


def _aad(org_id: uuid.UUID, spotify_user_id: str, field: str) -> str:
    return f"{org_id}:{_PROVIDER}:{spotify_user_id}:{field}"


async def create_listen_link(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> tuple[ListenLink, bool] | None:
    """The campaign's link and whether we created it now; ``None`` when the organization has no such campaign."""
    row = await q.fetchrow(
        "INSERT INTO campaign_listen_links (campaign_id, organization_id, token)"
        " SELECT id, organization_id, $3 FROM campaigns WHERE organization_id = $1 AND id = $2"
        " ON CONFLICT (campaign_id) DO NOTHING RETURNING campaign_id, token, created_at",
        org_id, campaign_id, secrets.token_urlsafe(_TOKEN_BYTES))
    if row is not None:
        return as_struct(row, ListenLink), True
    existing = await get_listen_link(q, org_id, campaign_id)
    return None if existing is None else (existing, False)


async def get_listen_link(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> ListenLink | None:
    """The campaign's link, or ``None`` when it has none (or the organization has no such campaign)."""
    row = await q.fetchrow("SELECT campaign_id, token, created_at FROM campaign_listen_links"
                           " WHERE organization_id = $1 AND campaign_id = $2", org_id, campaign_id)
    return maybe_struct(row, ListenLink)


async def revoke_listen_link(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    """Delete the campaign's link (the next one gets a new token); False when there was none."""
    status = await q.execute("DELETE FROM campaign_listen_links WHERE organization_id = $1 AND campaign_id = $2",
                             org_id, campaign_id)
    return row_count(status) == 1


_TARGET = ("SELECT c.organization_id, c.id AS campaign_id, c.name AS campaign_name, c.status AS campaign_status"
           " FROM campaigns c")


async def link_target(q: Queries, token: str) -> LinkTarget | None:
    """The campaign behind a public link's token, or ``None`` for an unknown or revoked one."""
    row = await q.fetchrow(f"{_TARGET} JOIN campaign_listen_links l ON l.campaign_id = c.id WHERE l.token = $1",
                           token)
    return maybe_struct(row, LinkTarget)


async def get_campaign_target(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID) -> LinkTarget | None:
    row = await q.fetchrow(f"{_TARGET} WHERE c.organization_id = $1 AND c.id = $2", org_id, campaign_id)
    return maybe_struct(row, LinkTarget)


async def opt_in(
    q: Queries, key: bytes, *, org_id: uuid.UUID, campaign_id: uuid.UUID, spotify_user_id: str, display_name: str,
    access_token: str, refresh_token: str | None, token_expires_at: datetime | None,
) -> tuple[CampaignListener, bool]:
    """Store the fan's account with fresh sealed tokens (status ``connected``) and list it on the campaign.

    Returns the listener as the campaign lists it and whether it was new to the campaign: opting in
    again keeps the first ``opted_in_at``, since plays after that moment are the ones that count.
    """
    refresh = None if refresh_token is None else seal(key, refresh_token, _aad(org_id, spotify_user_id,
                                                                               "refresh_token"))
    async with atomic(q) as conn:
        listener_id = (await fetch_one(
            conn, "INSERT INTO listener_accounts (organization_id, spotify_user_id, display_name, status,"
                  " access_token_sealed, refresh_token_sealed, token_expires_at)"
                  " VALUES ($1, $2, $3, 'connected', $4, $5, $6)"
                  " ON CONFLICT (organization_id, spotify_user_id) DO UPDATE SET"
                  " display_name = EXCLUDED.display_name, status = 'connected',"
                  " access_token_sealed = EXCLUDED.access_token_sealed,"
                  " refresh_token_sealed = EXCLUDED.refresh_token_sealed,"
                  " token_expires_at = EXCLUDED.token_expires_at, updated_at = now() RETURNING id",
            org_id, spotify_user_id, display_name, seal(key, access_token, _aad(org_id, spotify_user_id,
                                                                                "access_token")),
            refresh, token_expires_at))["id"]
        added = await conn.fetchrow("INSERT INTO campaign_listeners (campaign_id, listener_id) VALUES ($1, $2)"
                                    " ON CONFLICT DO NOTHING RETURNING listener_id", campaign_id, listener_id)
        row = await fetch_one(conn, f"{_LISTENER_SELECT} WHERE c.organization_id = $1 AND cl.campaign_id = $2"
                                    " AND cl.listener_id = $3", org_id, campaign_id, listener_id)
        # Wakes the engine's account supervisor (delivered at commit): a listener to poll now.
        await conn.execute("SELECT pg_notify($1, $2)", LISTENERS_CHANNEL, str(listener_id))
    return _listener(row), added is not None


_LISTENER_SELECT = (
    "SELECT a.id, a.spotify_user_id, a.display_name, a.status, cl.opted_in_at FROM campaign_listeners cl"
    " JOIN listener_accounts a ON a.id = cl.listener_id JOIN campaigns c ON c.id = cl.campaign_id"
)


async def list_campaign_listeners(
    q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID, *, search: str | None = None, limit: int = 20,
    offset: int = 0,
) -> Page[CampaignListener]:
    """The campaign's listeners, latest opt-in first (``id`` breaks ties). ``search`` matches the display
    name or the Spotify user id literally, ignoring case. An unknown campaign simply has none."""
    check_window(limit, offset)
    where = Where(org_id)
    where.add("c.organization_id = $1")
    where.add(f"cl.campaign_id = {where.param(campaign_id)}")
    if search:
        pattern = where.param(like_pattern(search))
        where.add(f"(a.display_name ILIKE {pattern} ESCAPE '\\' OR a.spotify_user_id ILIKE {pattern} ESCAPE '\\')")
    body = _LISTENER_SELECT.split(" FROM ", 1)[1]
    total = await count_rows(q, f"SELECT count(*) FROM {body} WHERE {where.sql()}", *where.args)
    rows = await q.fetch(f"{_LISTENER_SELECT} WHERE {where.sql()} ORDER BY cl.opted_in_at DESC, a.id DESC"
                         f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}", *where.args)
    return page([_listener(row) for row in rows], total, limit, offset)


async def remove_from_campaign(q: Queries, org_id: uuid.UUID, campaign_id: uuid.UUID, listener_id: uuid.UUID) -> bool:
    """Take the listener off the campaign; False when it was not on it. A listener left on no campaign is
    deleted with its tokens: we keep a fan's access only while some campaign uses it."""
    async with atomic(q) as conn:
        status = await conn.execute(
            "DELETE FROM campaign_listeners cl USING campaigns c WHERE c.id = cl.campaign_id"
            " AND c.organization_id = $1 AND cl.campaign_id = $2 AND cl.listener_id = $3",
            org_id, campaign_id, listener_id)
        await conn.execute("DELETE FROM listener_accounts a WHERE a.organization_id = $1 AND a.id = $2"
                           " AND NOT EXISTS (SELECT 1 FROM campaign_listeners WHERE listener_id = a.id)",
                           org_id, listener_id)
    return row_count(status) == 1


async def listener_tokens(q: Queries, key: bytes, org_id: uuid.UUID, listener_id: uuid.UUID, *,
                          for_update: bool = False) -> Tokens | None:
    """The opened tokens of one listener of ``org_id``; raises ``SealError`` if they were tampered with.

    ``for_update`` locks the row until the transaction ends, so that one refresh at a time rotates them.
    """
    row = await q.fetchrow("SELECT spotify_user_id, access_token_sealed, refresh_token_sealed, token_expires_at"
                           " FROM listener_accounts WHERE organization_id = $1 AND id = $2"
                           + (" FOR UPDATE" if for_update else ""), org_id, listener_id)
    if row is None:
        return None
    user, sealed_refresh = row["spotify_user_id"], row["refresh_token_sealed"]
    return Tokens(
        access_token=open_(key, row["access_token_sealed"], _aad(org_id, user, "access_token")),
        refresh_token=None if sealed_refresh is None else open_(key, sealed_refresh, _aad(org_id, user,
                                                                                          "refresh_token")),
        expires_at=row["token_expires_at"])


async def replace_listener_tokens(q: Queries, key: bytes, org_id: uuid.UUID, listener_id: uuid.UUID, *,
                                  access_token: str, refresh_token: str | None,
                                  token_expires_at: datetime | None) -> bool:
    """Store refreshed tokens (a rotated refresh token included); False if the listener is gone."""
    user = await q.fetchval("SELECT spotify_user_id FROM listener_accounts WHERE organization_id = $1 AND id = $2",
                            org_id, listener_id)
    if not isinstance(user, str):
        return False
    refresh = None if refresh_token is None else seal(key, refresh_token, _aad(org_id, user, "refresh_token"))
    status = await q.execute(
        "UPDATE listener_accounts SET access_token_sealed = $3, refresh_token_sealed = $4, token_expires_at = $5,"
        " updated_at = now() WHERE organization_id = $1 AND id = $2", org_id, listener_id,
        seal(key, access_token, _aad(org_id, user, "access_token")), refresh, token_expires_at)
    return row_count(status) == 1


async def mark_listener_needs_reauth(q: Queries, org_id: uuid.UUID, listener_id: uuid.UUID) -> bool:
    """The fan must opt in again (their refresh token is dead); the listener's actor stops polling."""
    status = await q.execute("UPDATE listener_accounts SET status = 'needs_reauth', updated_at = now()"
                             " WHERE organization_id = $1 AND id = $2", org_id, listener_id)
    return row_count(status) == 1
