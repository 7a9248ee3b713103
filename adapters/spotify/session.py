"""A ``SpotifyClient`` token provider backed by a stored integration: it refreshes before expiry and keeps
rotated refresh tokens.

Spotify's PKCE refresh tokens may be single-use, so two refreshes racing with the same one would end the
second in ``invalid_grant``. The refresh therefore runs with the integration's row locked (``FOR UPDATE``):
whoever waits re-reads the row and finds the fresh token. A dead refresh token marks the integration
``needs_reauth`` (committed before the error is raised) so the API and the actors show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from adapters.spotify import oauth
from adapters.spotify.classify import ReauthRequiredError
from engine.store import integrations as store
from engine.store.database import Database

__all__ = ["StoredSpotifyToken"]


class StoredSpotifyToken:
    """Awaitable as a ``TokenProvider``: returns an access token with at least ``skew`` seconds left.

    Error handling: ``ReauthRequiredError`` when the account was disconnected, has no refresh token, or
    Spotify refused the refresh (the integration is then ``needs_reauth``); otherwise what ``oauth.refresh``
    raises (``RetryableError``, ``RateLimitedError``, ``FatalProviderError``).
    """

    def __init__(self, db: Database, key: bytes, integration: store.Integration, http: httpx.AsyncClient, *,
                 client_id: str, token_url: str, now: Callable[[], float] = time.time, skew: float = 60.0) -> None:
        self._db, self._key, self._integration, self._http = db, key, integration, http
        self._client_id, self._token_url, self._now, self._skew = client_id, token_url, now, skew
        self._cached: tuple[str, float] | None = None  # the token and when it stops being good enough

    async def __call__(self) -> str:
        if self._cached is not None and self._now() < self._cached[1]:
            return self._cached[0]
        dead: ReauthRequiredError | None = None
        async with self._db.transaction() as tx:
            row = self._integration
            tokens = await store.get_tokens(tx, self._key, row.organization_id, row.id, for_update=True)
            if tokens is None:
                raise ReauthRequiredError("spotify: the account is no longer connected")
            expires = None if tokens.expires_at is None else tokens.expires_at.timestamp()
            if expires is None or self._now() < expires - self._skew:
                return self._keep(tokens.access_token, expires)
            try:
                if tokens.refresh_token is None:
                    raise ReauthRequiredError("spotify: the access token expired and there is no refresh token")
                fresh = await oauth.refresh(self._http, refresh_token=tokens.refresh_token,
                                            client_id=self._client_id, token_url=self._token_url, now=self._now)
            except ReauthRequiredError as exc:
                dead = exc  # raised after the transaction commits the mark
                await store.mark_needs_reauth(tx, row.organization_id, row.id)
            else:
                await store.replace_tokens(tx, self._key, row, access_token=fresh.access_token,
                                           refresh_token=fresh.refresh_token,
                                           token_expires_at=datetime.fromtimestamp(fresh.expires_at, UTC))
                return self._keep(fresh.access_token, fresh.expires_at)
        assert dead is not None  # the only way out of the block without a return
        raise dead

    def _keep(self, token: str, expires: float | None) -> str:
        self._cached = (token, float("inf") if expires is None else expires - self._skew)
        return token
