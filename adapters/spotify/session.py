"""A ``SpotifyClient`` token provider backed by a stored account: it refreshes before expiry and keeps
rotated refresh tokens. The account is an organization's integration (``integrations``) or an opted-in
listener (``listener_accounts``); both sit behind the small ``TokenRow`` interface.

Spotify's PKCE refresh tokens may be single-use, so two refreshes racing with the same one would end the
second in ``invalid_grant``. The refresh therefore runs with the account's row locked (``FOR UPDATE``):
whoever waits re-reads the row and finds the fresh token. A dead refresh token marks the account
``needs_reauth`` (committed before the error is raised) so the API and the actors show it.

An account actor's token carries its lease: the refresh is fenced (``leases.fence``) before Spotify is asked,
in the same transaction, so a process that lost the account neither rotates the refresh token (which the
new holder could then not use) nor writes anything.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import httpx

from adapters.spotify import oauth
from engine.lease_plan import Lease
from engine.provider import ReauthRequiredError
from engine.store import integrations as store
from engine.store import leases, listeners
from engine.store.database import Connection, Database
from engine.store.integrations import Tokens

__all__ = ["IntegrationTokens", "ListenerTokens", "StoredSpotifyToken", "TokenRow"]


class TokenRow(Protocol):
    """One stored account's tokens, read and written inside the refresh's transaction."""

    async def load(self, tx: Connection) -> Tokens | None:
        """The opened tokens, the row locked until ``tx`` ends; ``None`` if the account is gone."""
        ...

    async def save(self, tx: Connection, *, access_token: str, refresh_token: str | None,
                   token_expires_at: datetime | None) -> None: ...

    async def mark_needs_reauth(self, tx: Connection) -> None: ...


class IntegrationTokens:
    """``TokenRow`` of an organization's connected Spotify account."""

    def __init__(self, key: bytes, integration: store.Integration) -> None:
        self._key, self._row = key, integration

    async def load(self, tx: Connection) -> Tokens | None:
        return await store.get_tokens(tx, self._key, self._row.organization_id, self._row.id, for_update=True)

    async def save(self, tx: Connection, *, access_token: str, refresh_token: str | None,
                   token_expires_at: datetime | None) -> None:
        await store.replace_tokens(tx, self._key, self._row, access_token=access_token,
                                   refresh_token=refresh_token, token_expires_at=token_expires_at)

    async def mark_needs_reauth(self, tx: Connection) -> None:
        await store.mark_needs_reauth(tx, self._row.organization_id, self._row.id,
                                      reason="spotify refused the refresh token (invalid_grant)")


class ListenerTokens:
    """``TokenRow`` of a fan's opted-in account (``listener_accounts``)."""

    def __init__(self, key: bytes, org_id: uuid.UUID, listener_id: uuid.UUID) -> None:
        self._key, self._org, self._id = key, org_id, listener_id

    async def load(self, tx: Connection) -> Tokens | None:
        return await listeners.listener_tokens(tx, self._key, self._org, self._id, for_update=True)

    async def save(self, tx: Connection, *, access_token: str, refresh_token: str | None,
                   token_expires_at: datetime | None) -> None:
        await listeners.replace_listener_tokens(tx, self._key, self._org, self._id, access_token=access_token,
                                                refresh_token=refresh_token, token_expires_at=token_expires_at)

    async def mark_needs_reauth(self, tx: Connection) -> None:
        await listeners.mark_listener_needs_reauth(tx, self._org, self._id)


class StoredSpotifyToken:
    """Awaitable as a ``TokenProvider``: returns an access token with at least ``skew`` seconds left.

    ``for_listener`` builds one over a fan's ``listener_accounts`` row. ``lease`` is the account actor's (an
    API request refreshing for a member has none): a refresh is made only while it is current.

    Error handling: ``ReauthRequiredError`` when the account was disconnected, has no refresh token, or
    Spotify refused the refresh (the integration is then ``needs_reauth``); ``LeaseLost`` when a refresh was
    due under a lease another engine process holds now; otherwise what ``oauth.refresh`` raises
    (``RetryableError``, ``RateLimitedError``, ``FatalProviderError``).
    """

    def __init__(self, db: Database, key: bytes, account: store.Integration | TokenRow, http: httpx.AsyncClient, *,
                 client_id: str, token_url: str, now: Callable[[], float] = time.time, skew: float = 60.0,
                 lease: Lease | None = None) -> None:
        """``account`` is an integration (the historical form) or any ``TokenRow``; ``key`` opens the
        integration's tokens and is unused for a ``TokenRow``, which holds its own."""
        self._row: TokenRow = IntegrationTokens(key, account) if isinstance(account, store.Integration) else account
        self._db, self._http, self._lease = db, http, lease
        self._client_id, self._token_url, self._now, self._skew = client_id, token_url, now, skew
        self._cached: tuple[str, float] | None = None  # the token and when it stops being good enough

    async def __call__(self) -> str:
        if self._cached is not None and self._now() < self._cached[1]:
            return self._cached[0]
        dead: ReauthRequiredError | None = None
        async with self._db.transaction() as tx:
            tokens = await self._row.load(tx)
            if tokens is None:
                raise ReauthRequiredError("spotify: the account is no longer connected")
            expires = None if tokens.expires_at is None else tokens.expires_at.timestamp()
            if expires is None or self._now() < expires - self._skew:
                return self._keep(tokens.access_token, expires)
            if self._lease is not None:  # the lease row stays locked until the refresh's writes commit
                await leases.fence(tx, self._lease, "token_refresh")
            try:
                if tokens.refresh_token is None:
                    raise ReauthRequiredError("spotify: the access token expired and there is no refresh token")
                fresh = await oauth.refresh(self._http, refresh_token=tokens.refresh_token,
                                            client_id=self._client_id, token_url=self._token_url, now=self._now)
            except ReauthRequiredError as exc:
                dead = exc  # raised after the transaction commits the mark
                await self._row.mark_needs_reauth(tx)
            else:
                await self._row.save(tx, access_token=fresh.access_token, refresh_token=fresh.refresh_token,
                                     token_expires_at=datetime.fromtimestamp(fresh.expires_at, UTC))
                return self._keep(fresh.access_token, fresh.expires_at)
        assert dead is not None  # the only way out of the block without a return
        raise dead

    @classmethod
    def for_listener(cls, db: Database, key: bytes, org_id: uuid.UUID, listener_id: uuid.UUID,
                     http: httpx.AsyncClient, *, client_id: str, token_url: str,
                     now: Callable[[], float] = time.time, skew: float = 60.0,
                     lease: Lease | None = None) -> StoredSpotifyToken:
        return cls(db, key, ListenerTokens(key, org_id, listener_id), http, client_id=client_id,
                   token_url=token_url, now=now, skew=skew, lease=lease)

    def _keep(self, token: str, expires: float | None) -> str:
        self._cached = (token, float("inf") if expires is None else expires - self._skew)
        return token
