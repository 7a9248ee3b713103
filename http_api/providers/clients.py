"""Provider clients for one request: the caller's organization's connected Meta or Spotify account, its
tokens, and the provider's failures turned into the API's ``INTEGRATION_ERROR``.

Routes call ``meta_client(call)`` / ``spotify_client(call)`` and use the typed client inside the block;
they never see tokens, and they never catch provider errors themselves. Work outside a request (sync
runs) opens the same clients with ``open_meta(ctx, org_id)`` / ``open_spotify(ctx, org_id)`` and gets
the provider's errors as they are. How failures reach the caller:

- not configured (no app credentials and no simulator): 503 ``INTEGRATION_ERROR``;
- no account connected, or the account needs re-authorization: 409 ``INTEGRATION_ERROR``;
- the provider refused or failed: 502 ``INTEGRATION_ERROR`` with the provider's own message, and
  ``Retry-After`` when the provider's rate limit said when to come back.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from adapters.meta.client import MetaClient
from adapters.spotify.client import SpotifyClient
from adapters.spotify.session import StoredSpotifyToken
from engine.provider import AuthExpiredError, ProviderError, RateLimitedError, ReauthRequiredError, RetryableError
from engine.registry import format_error
from engine.store import integrations as store
from engine.store.database import Database
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.routing import Call

__all__ = [
    "PROVIDER_ERRORS", "connected_integration", "meta_client", "not_configured", "open_meta", "open_spotify",
    "provider_errors", "spotify_client",
]

PROVIDER_ERRORS = (409, 502, 503)  # what a route that calls a provider adds to its documented errors
_NAMES = {"meta": "Meta", "spotify": "Spotify"}


def not_configured(provider: store.Provider) -> ApiError:
    return ApiError(503, "INTEGRATION_ERROR", f"{_NAMES[provider]} is not configured on this server: set its app"
                    f" credentials in [{provider}] (see the README), or run in sandbox mode")


async def connected_integration(call: Call, provider: store.Provider) -> store.Integration:
    """The organization's connected account of ``provider``; 409 when there is none or it needs re-auth."""
    return await _connected(call.db, call.caller.organization_id, provider)


async def _connected(db: Database, org_id: uuid.UUID, provider: store.Provider) -> store.Integration:
    row = await store.get_integration(db, org_id, provider)
    if row is None:
        raise _not_connected(provider)
    if row.status != "connected":
        raise _reauth(provider)
    return row


def _not_connected(provider: store.Provider) -> ApiError:
    return ApiError(409, "INTEGRATION_ERROR", f"no {_NAMES[provider]} account is connected: connect one with"
                    f" GET /v1/auth/{provider}/connect", [ErrorDetail("integration", "not connected")])


def _reauth(provider: store.Provider) -> ApiError:
    return ApiError(409, "INTEGRATION_ERROR", f"the {_NAMES[provider]} account must be connected again"
                    f" (GET /v1/auth/{provider}/connect)", [ErrorDetail("integration", "needs_reauth")])


@contextmanager
def provider_errors(provider: store.Provider) -> Iterator[None]:
    """Turn provider errors raised inside the block into the API's answers (see the module docstring)."""
    try:
        yield
    except AuthExpiredError as exc:
        raise _reauth(provider) from exc
    except ProviderError as exc:
        error = ApiError(502, "INTEGRATION_ERROR", f"{_NAMES[provider]}: {exc.message}")
        wait = exc.reset_after if isinstance(exc, RateLimitedError) else (
            exc.retry_after if isinstance(exc, RetryableError) else None)
        if wait is not None:
            error.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        raise error from exc


@asynccontextmanager
async def meta_client(call: Call) -> AsyncIterator[tuple[MetaClient, store.Integration]]:
    """A MetaClient on the organization's connected Meta account, and that account.

    A token Meta calls expired or revoked (code 190) marks the account ``needs_reauth``.
    """
    with provider_errors("meta"):  # outside open_meta, which must see the provider's own errors
        async with open_meta(call.ctx, call.caller.organization_id) as opened:
            yield opened


@asynccontextmanager
async def spotify_client(call: Call) -> AsyncIterator[SpotifyClient]:
    """A SpotifyClient on the organization's connected Spotify account, refreshing its token as needed.

    A refresh Spotify refuses marks the account ``needs_reauth`` (``StoredSpotifyToken``); an access token
    refused mid-life does too, since a refreshed token that is refused means the grant was revoked.
    """
    with provider_errors("spotify"):
        async with open_spotify(call.ctx, call.caller.organization_id) as client:
            yield client


@asynccontextmanager
async def open_meta(ctx: ApiContext, org_id: uuid.UUID) -> AsyncIterator[tuple[MetaClient, store.Integration]]:
    """``meta_client`` for work outside a request (sync runs): the same client and account.

    Error handling: ``ApiError`` 503 (not configured) or 409 (not connected, needs re-auth) before the block
    runs; the block's provider errors pass through unchanged, after an ``AuthExpiredError`` has marked the
    account ``needs_reauth``.
    """
    meta = ctx.settings.meta
    if meta.app_id is None:
        raise not_configured("meta")
    db = ctx.db()
    integration = await _connected(db, org_id, "meta")
    tokens = await store.get_tokens(db, ctx.keys.token_encryption_key, integration.organization_id, integration.id)
    if tokens is None:  # disconnected between the two reads
        raise _not_connected("meta")
    async with ctx.http_factory() as http:
        try:
            yield MetaClient(http, tokens.access_token, base_url=meta.graph_url, version=meta.api_version), \
                integration
        except AuthExpiredError as exc:
            await store.mark_needs_reauth(db, integration.organization_id, integration.id, reason=format_error(exc))
            raise


@asynccontextmanager
async def open_spotify(ctx: ApiContext, org_id: uuid.UUID) -> AsyncIterator[SpotifyClient]:
    """``spotify_client`` for work outside a request (sync runs); errors as ``open_meta``."""
    spotify = ctx.settings.spotify
    if spotify.client_id is None:
        raise not_configured("spotify")
    db = ctx.db()
    integration = await _connected(db, org_id, "spotify")
    async with ctx.http_factory() as http:
        token = StoredSpotifyToken(db, ctx.keys.token_encryption_key, integration, http,
                                   client_id=spotify.client_id, token_url=f"{spotify.accounts_url}/api/token",
                                   now=ctx.now)
        try:
            yield SpotifyClient(http, token, base_url=f"{spotify.api_url}/v1")
        except AuthExpiredError as exc:
            if not isinstance(exc, ReauthRequiredError):  # StoredSpotifyToken marked that one itself
                await store.mark_needs_reauth(db, integration.organization_id, integration.id, reason=format_error(exc))
            raise
