"""Connecting an organization's provider accounts (Spotify with PKCE, Meta with a signed state), listing
them and disconnecting them.

It owns the OAuth round trip: ``connect`` stores a single-use state (hashed; Spotify's code verifier
sealed) and redirects to the provider; the PUBLIC ``callback`` (the browser returns without our Bearer
token, so the state row names the organization and user) exchanges the code and stores the account with
its tokens sealed (``engine.store.integrations``). Tokens never leave this module in a response or a log.
Provider failures map to 400 (a bad or used code, a refused consent, a bad ``state``) or 502.

The reads also show each account's ``poller`` (``http_api.providers.pollers``). ``begin_connect`` is the
start both the API's connect route and the console's button use; a login the console started lands back on
the console (``http_api.providers.console_landing``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
from quart import Response

from adapters.meta import oauth as meta_oauth
from adapters.spotify import oauth as spotify_oauth
from adapters.spotify.classify import classify, transport_errors
from engine.audit import AuditContext, acting_as
from engine.provider import ProviderError, ReauthRequiredError
from engine.store import accounts
from engine.store import integrations as store
from http_api.auditing import current_source, request_context
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.pagination import ListQuery, Pagination, paginate
from http_api.providers.clients import not_configured
from http_api.providers.console_landing import land_in_console, started_in_console
from http_api.providers.listeners import listener_callback_url
from http_api.providers.pollers import IntegrationOut, integration_out, integrations_with_pollers
from http_api.routing import Access, Call, Router

__all__ = ["SPOTIFY_SCOPES", "STATE_TTL", "begin_connect", "integrations_router", "spotify_redirect_uris"]

STATE_TTL = timedelta(minutes=10)
SPOTIFY_SCOPES = ("user-read-private", "user-read-email", "user-library-read", "playlist-read-private")
_PROVIDERS: tuple[store.Provider, ...] = ("meta", "spotify")
_NAMES = {"meta": "Meta", "spotify": "Spotify"}
class ConnectQuery(msgspec.Struct, frozen=True):
    redirect_uri: str | None = None


class CallbackQuery(msgspec.Struct, frozen=True):
    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None


class IntegrationBody(msgspec.Struct, frozen=True):
    integration: IntegrationOut


class IntegrationList(msgspec.Struct, frozen=True):
    integrations: list[IntegrationOut]
    pagination: Pagination


class Disconnected(msgspec.Struct, frozen=True, kw_only=True):
    """What ``DELETE /v1/auth/integrations/{provider}`` removed: ``accounts`` of ``provider``, with their
    tokens."""

    provider: store.Provider
    accounts: int


_BAD_STATE = ErrorDetail("state", "unknown, expired or already used; start the connection again")


def integrations_router(ctx: ApiContext) -> Router:
    """The routes, on the providers of ``ctx.settings`` (``[meta]``, ``[spotify]``)."""
    router = Router("integrations", ctx, tag="Integrations")
    _spotify_routes(router, ctx)
    _meta_routes(router, ctx)
    _read_routes(router)
    return router


def spotify_redirect_uris(public_url: str) -> tuple[str, ...]:
    """Every redirect URI this service sends Spotify, to register in the Spotify app's settings: the
    members' connect callback and the fans' listener opt-in callback."""
    return (f"{public_url}/v1/auth/spotify/callback", listener_callback_url(public_url))


def _callback_url(ctx: ApiContext, provider: str, asked: str | None) -> str:
    ours = f"{ctx.public_url}/v1/auth/{provider}/callback"
    if asked is not None and asked != ours:
        raise ApiError(400, "VALIDATION_ERROR", "redirect_uri must be this service's own callback",
                       [ErrorDetail("redirect_uri", f"expected {ours}")])
    return ours


def _redirect(location: str) -> Response:
    return Response(b"", status=302, headers={"Location": location, "Cache-Control": "no-store"})


async def _check_callback(call: Call, provider: store.Provider) -> tuple[str, str]:
    """The callback's code and state; a refusal spends its state, so the login must start over."""
    query: CallbackQuery = call.query
    if query.error is not None:
        if query.state is not None:
            await store.consume_oauth_state(call.db, call.ctx.keys.token_encryption_key, query.state, provider)
        reason = "the user declined access" if query.error == "access_denied" else query.error
        raise ApiError(400, "AUTHORIZATION_DENIED", f"the provider did not grant access: {reason}",
                       [ErrorDetail("error", query.error_description or query.error)])
    if query.state is None:
        raise ApiError(400, "VALIDATION_ERROR", "the callback carried no state", [_BAD_STATE])
    if query.code is None:
        raise ApiError(400, "VALIDATION_ERROR", "the callback carried no code", [ErrorDetail("code", "missing")])
    return query.code, query.state


async def _consume(call: Call, state: str, provider: store.Provider) -> store.OAuthState:
    found = await store.consume_oauth_state(call.db, call.ctx.keys.token_encryption_key, state, provider)
    if found is None:
        raise ApiError(400, "VALIDATION_ERROR", "invalid OAuth state", [_BAD_STATE])
    return found


async def _connecting(call: Call, pending: store.OAuthState) -> AuditContext:
    """Who the audit log names for a connection: the member who started it. The callback itself is a public
    GET (the browser returns from the provider without our token), which ``routing.py`` attributes to nobody."""
    user = None if pending.user_id is None else await accounts.get_user(call.db, pending.organization_id,
                                                                         pending.user_id)
    return request_context(current_source(), pending.user_id, user.email if user else "", pending.organization_id)


def _provider_failure(provider: str, exc: ProviderError) -> ApiError:
    if isinstance(exc, ReauthRequiredError):  # invalid_grant: a used, expired or foreign code
        return ApiError(400, "VALIDATION_ERROR", f"{provider} refused the authorization code; connect again",
                        [ErrorDetail("code", "rejected by the provider")])
    return ApiError(502, "INTEGRATION_ERROR", f"{provider} did not complete the connection: {exc.message}")


async def begin_connect(ctx: ApiContext, provider: store.Provider, org_id: uuid.UUID, user_id: uuid.UUID,
                        asked_redirect: str | None = None) -> tuple[str, str]:
    """Start ``user_id``'s login to ``provider``: remember its single-use state (Spotify's PKCE verifier
    sealed with it) and return the provider's authorization URL and the state. Raises ``ApiError`` 503
    when the provider is not configured, 400 when ``asked_redirect`` is not our callback."""
    redirect_uri = _callback_url(ctx, provider, asked_redirect)
    verifier: str | None = None
    if provider == "spotify":
        client_id = _configured(ctx.settings.spotify.client_id, "spotify")
        state, (verifier, challenge) = secrets.token_urlsafe(32), spotify_oauth.pkce_pair()
        location = spotify_oauth.authorize_url(client_id, redirect_uri, SPOTIFY_SCOPES, state, challenge,
                                               ctx.settings.spotify.accounts_url)
    else:
        meta = ctx.settings.meta
        app_id = _configured(meta.app_id, "meta")
        state = _state_signer(ctx).sign(f"{org_id}:{user_id}", now=ctx.now(), ttl_s=int(STATE_TTL.total_seconds()))
        location = meta_oauth.login_url(app_id, redirect_uri, state, version=meta.api_version,
                                        dialog_base=meta.dialog_url)
    await store.save_oauth_state(ctx.db(), ctx.keys.token_encryption_key, state=state, org_id=org_id,
                                 user_id=user_id, provider=provider, code_verifier=verifier,
                                 redirect_uri=redirect_uri, ttl=STATE_TTL)
    return location, state


_CALLBACK_NOTE = ("A login the console started (its browser holds the console's mark for this `state`) lands"
                  " back on the console's integrations page with the outcome, instead of this JSON.")


async def _land(call: Call, provider: store.Provider,
                finish: Callable[[Call], Awaitable[IntegrationBody]]) -> IntegrationBody | Response:
    """``finish``'s answer, or, for a login the console started, the console's page with its outcome."""
    if not started_in_console(call.query.state):
        return await finish(call)
    name, public_url = _NAMES[provider], call.ctx.public_url
    try:
        body = await finish(call)
    except ApiError as err:
        return land_in_console(f"{name} was not connected: {err.message}.", public_url=public_url)
    return land_in_console(f"{name} is connected: {body.integration.display_name}.", public_url=public_url)


def _spotify_routes(router: Router, ctx: ApiContext) -> None:
    spotify = ctx.settings.spotify
    @router.route("GET", "/v1/auth/spotify/connect", summary="Start connecting a Spotify account",
                  access=Access.MEMBER, query=ConnectQuery, status=302, errors=(400, 403, 503))
    async def spotify_connect(call: Call) -> Response:
        caller = call.caller
        location, _ = await begin_connect(ctx, "spotify", caller.organization_id, caller.user_id,
                                          call.query.redirect_uri)
        return _redirect(location)

    @router.route("GET", "/v1/auth/spotify/callback", summary="Finish connecting a Spotify account",
                  access=Access.PUBLIC, query=CallbackQuery, response=IntegrationBody, errors=(400, 502, 503),
                  description=_CALLBACK_NOTE)
    async def spotify_callback(call: Call) -> IntegrationBody | Response:
        return await _land(call, "spotify", finish_spotify)

    async def finish_spotify(call: Call) -> IntegrationBody:
        client_id = _configured(spotify.client_id, "spotify")
        code, state = await _check_callback(call, "spotify")
        pending = await _consume(call, state, "spotify")
        assert pending.code_verifier is not None
        try:
            async with ctx.http_factory() as http:
                tokens = await spotify_oauth.exchange_code(
                    http, code=code, verifier=pending.code_verifier, redirect_uri=pending.redirect_uri,
                    client_id=client_id, token_url=f"{spotify.accounts_url}/api/token", now=ctx.now)
                account_id, name = await _spotify_profile(http, spotify.api_url, tokens.access_token)
        except ProviderError as exc:
            raise _provider_failure("spotify", exc) from exc
        with acting_as(await _connecting(call, pending)):
            saved = await store.upsert_integration(
                call.db, ctx.keys.token_encryption_key, org_id=pending.organization_id, provider="spotify",
                external_account_id=account_id, display_name=name, access_token=tokens.access_token,
                refresh_token=tokens.refresh_token, token_expires_at=datetime.fromtimestamp(tokens.expires_at, UTC),
                scopes=tokens.scope.split(), connected_by=pending.user_id)
        return IntegrationBody(integration_out(saved))


class _SpotifyUser(msgspec.Struct):
    id: str
    display_name: str | None = None


async def _spotify_profile(http: httpx.AsyncClient, api_url: str, access_token: str) -> tuple[str, str]:
    with transport_errors():
        response = await http.get(f"{api_url}/v1/me", headers={"Authorization": f"Bearer {access_token}"})
    classify(response)
    user = msgspec.json.decode(response.content, type=_SpotifyUser, strict=False)
    return user.id, user.display_name or user.id


def _state_signer(ctx: ApiContext) -> meta_oauth.StateSigner:
    # A key of its own, derived from the token key, so a state MAC never doubles as anything else.
    return meta_oauth.StateSigner(hmac.new(ctx.keys.token_encryption_key, b"meta-oauth-state", hashlib.sha256).digest())


def _meta_routes(router: Router, ctx: ApiContext) -> None:
    meta = ctx.settings.meta
    @router.route("GET", "/v1/auth/meta/connect", summary="Start connecting a Meta account",
                  access=Access.MEMBER, query=ConnectQuery, status=302, errors=(400, 403, 503))
    async def meta_connect(call: Call) -> Response:
        caller = call.caller
        location, _ = await begin_connect(ctx, "meta", caller.organization_id, caller.user_id,
                                          call.query.redirect_uri)
        return _redirect(location)

    @router.route("GET", "/v1/auth/meta/callback", summary="Finish connecting a Meta account",
                  access=Access.PUBLIC, query=CallbackQuery, response=IntegrationBody, errors=(400, 502, 503),
                  description=_CALLBACK_NOTE)
    async def meta_callback(call: Call) -> IntegrationBody | Response:
        return await _land(call, "meta", finish_meta)

    async def finish_meta(call: Call) -> IntegrationBody:
        app_id, app_secret = _configured(meta.app_id, "meta"), _configured(meta.app_secret, "meta")
        code, state = await _check_callback(call, "meta")
        try:
            owner = _state_signer(ctx).verify(state, now=ctx.now())
        except meta_oauth.InvalidState:
            raise ApiError(400, "VALIDATION_ERROR", "invalid OAuth state", [_BAD_STATE]) from None
        pending = await _consume(call, state, "meta")
        assert owner == f"{pending.organization_id}:{pending.user_id}"  # both come from our own connect
        try:
            async with ctx.http_factory() as http:
                client = meta_oauth.MetaOAuth(http, app_id, app_secret, base_url=meta.graph_url,
                                              version=meta.api_version)
                short = await client.exchange_code(code, pending.redirect_uri)
                long = await client.exchange_long_lived(short.data.access_token)
                info = (await client.debug_token(long.data.access_token)).data
        except ProviderError as exc:
            raise _provider_failure("meta", exc) from exc
        expires = long.data.expires_in
        with acting_as(await _connecting(call, pending)):
            saved = await store.upsert_integration(
                call.db, ctx.keys.token_encryption_key, org_id=pending.organization_id, provider="meta",
                external_account_id=info.user_id or "me", display_name=f"Meta user {info.user_id or 'me'}",
                access_token=long.data.access_token, refresh_token=None,
                token_expires_at=None if expires is None else datetime.fromtimestamp(ctx.now() + expires, UTC),
                scopes=list(info.scopes), connected_by=pending.user_id)
        return IntegrationBody(integration_out(saved))


def _configured(value: str | None, provider: store.Provider) -> str:
    if value is None:
        raise not_configured(provider)
    return value


def _provider(name: str) -> store.Provider:
    for provider in _PROVIDERS:
        if provider == name:
            return provider
    raise ApiError(404, "NOT_FOUND", f"no such provider: {name}")


def _read_routes(router: Router) -> None:
    async def listed(call: Call) -> IntegrationList:
        rows, pagination = paginate(await store.list_integrations(call.db, call.caller.organization_id), call.query)
        return IntegrationList(await integrations_with_pollers(call.db, rows), pagination)

    @router.route("GET", "/v1/integrations", summary="The organization's connected accounts",
                  access=Access.VIEWER, query=ListQuery, response=IntegrationList)
    async def list_integrations(call: Call) -> IntegrationList:
        return await listed(call)

    @router.route("GET", "/v1/auth/integrations", summary="The organization's connected accounts (alias)",
                  access=Access.VIEWER, query=ListQuery, response=IntegrationList)
    async def list_auth_integrations(call: Call) -> IntegrationList:
        return await listed(call)

    @router.route("GET", "/v1/integrations/<provider>", summary="One provider's connected account",
                  access=Access.VIEWER, response=IntegrationBody, errors=(404,))
    async def get_integration(call: Call, provider: str) -> IntegrationBody:
        row = await store.get_integration(call.db, call.caller.organization_id, _provider(provider))
        if row is None:
            raise ApiError(404, "NOT_FOUND", f"no {provider} account is connected")
        return IntegrationBody((await integrations_with_pollers(call.db, [row]))[0])

    @router.route("DELETE", "/v1/auth/integrations/<provider>", summary="Disconnect a provider",
                  access=Access.MEMBER, response=Disconnected, errors=(403, 404),
                  description="200 with what was removed, as the API reference answers; 404 when no account of"
                              " the provider is connected.")
    async def disconnect_integration(call: Call, provider: str) -> Disconnected:
        known = _provider(provider)
        removed = await store.disconnect(call.db, call.caller.organization_id, known)
        if removed == 0:
            raise ApiError(404, "NOT_FOUND", f"no {provider} account is connected")
        return Disconnected(provider=known, accounts=removed)

