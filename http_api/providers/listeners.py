"""The listener opt-in: a campaign's public link, where a fan connects Spotify (``user-read-recently-played``)
and is then listed as one of the campaign's listeners; and the members' routes to manage both.

The fan's hops (``/v1/listen/{token}`` and ``/v1/listen/callback``) are PUBLIC and answer a person in a
browser, so every outcome there, errors included, is a small HTML page rather than our JSON envelope. An
opt-in writes its consent record (``engine.store.consents``) in the connection's transaction, and its page
gives the fan a signed link to withdraw it (``consents.py`` answers that link).
The state row names the campaign (no user), and only this module's callback consumes such states
(``purpose="listener"``). Tokens are sealed by ``engine.store.listeners``; they never reach a response or
a log. We do not read the fans' plays here: that is the poller's job.
"""

from __future__ import annotations

import html
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
from quart import Response, request

from adapters.spotify import oauth as spotify_oauth
from adapters.spotify.classify import classify, transport_errors
from engine import consent_links
from engine.provider import ProviderError, ReauthRequiredError
from engine.store import consents
from engine.store import integrations as states
from engine.store import listeners as store
from http_api.catalog.schemas import PageQuery
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.pagination import Pagination
from http_api.responses import json_response
from http_api.routing import Access, Call, Router

__all__ = [
    "LISTENER_SCOPES", "ListenLinkOut", "drop_listen_link", "fan_page", "link_out", "listener_callback_url",
    "listeners_router", "make_listen_link",
]

LISTENER_SCOPES = ("user-read-recently-played",)
STATE_TTL = timedelta(minutes=10)
# A link stops taking fans once its campaign is over: 410, since the link did exist and will not return.
CLOSED_STATUSES = frozenset({"completed", "archived"})
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class ListenLinkOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    url: str
    token: str
    created_at: datetime


class ListenerList(msgspec.Struct, frozen=True, kw_only=True):
    listeners: list[store.CampaignListener]
    pagination: Pagination


class ListenCallbackQuery(msgspec.Struct, frozen=True):
    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None


def listener_callback_url(public_url: str) -> str:
    """Where Spotify sends a fan back to; it must be one of the app's registered redirect URIs."""
    return f"{public_url}/v1/listen/callback"


def listeners_router(ctx: ApiContext) -> Router:
    router = Router("listeners", ctx, tag="Listeners")
    _link_routes(router, ctx)
    _fan_routes(router, ctx)
    _listener_routes(router)
    return router


def link_out(ctx: ApiContext, link: store.ListenLink) -> ListenLinkOut:
    """The link as the API shows it: its public URL on this server."""
    return ListenLinkOut(url=f"{ctx.public_url}/v1/listen/{link.token}", token=link.token, created_at=link.created_at)


def _no_campaign() -> ApiError:
    return ApiError(404, "NOT_FOUND", "campaign not found")


def _link_routes(router: Router, ctx: ApiContext) -> None:
    @router.route("POST", "/v1/campaigns/<uuid:campaign_id>/listen-link", summary="Create the campaign's listener link",
                  access=Access.MEMBER, response=ListenLinkOut, status=201,
                  other_responses=((200, ListenLinkOut, "The campaign already had a link: the same one"),),
                  description="A public URL to share with fans: opening it connects their Spotify account"
                              " (user-read-recently-played) and lists them on the campaign. Idempotent: 201"
                              " when created, 200 with the existing link otherwise.")
    async def create_listen_link(call: Call, campaign_id: uuid.UUID) -> Response:
        link, created = await make_listen_link(call, campaign_id)
        return json_response(link, status=201 if created else 200)  # two success statuses

    @router.route("DELETE", "/v1/campaigns/<uuid:campaign_id>/listen-link", summary="Revoke the listener link",
                  access=Access.MEMBER, status=204,
                  description="The link stops working at once (404); the next POST makes a new token. Fans"
                              " already connected stay listed.")
    async def revoke_listen_link(call: Call, campaign_id: uuid.UUID) -> None:
        await drop_listen_link(call, campaign_id)


async def make_listen_link(call: Call, campaign_id: uuid.UUID) -> tuple[ListenLinkOut, bool]:
    """The campaign's listener link and whether it was made now (``POST /v1/campaigns/{id}/listen-link`` and
    the console's button). Raises 404 when the organization has no such campaign."""
    found = await store.create_listen_link(call.db, call.caller.organization_id, campaign_id)
    if found is None:
        raise _no_campaign()
    link, created = found
    return link_out(call.ctx, link), created


async def drop_listen_link(call: Call, campaign_id: uuid.UUID) -> None:
    """Revoke the campaign's listener link (``DELETE /v1/campaigns/{id}/listen-link`` and the console's button).
    Raises 404 when the campaign has none."""
    if not await store.revoke_listen_link(call.db, call.caller.organization_id, campaign_id):
        raise ApiError(404, "NOT_FOUND", "the campaign has no listener link")


_FAN_PAGES = (
    (400, None, "An HTML page: nothing was connected (consent declined, or the link expired or was used)"),
    (403, None, "An HTML page: Spotify refused the account (development mode allows only allow-listed users)"),
    (404, None, "An HTML page: no such link (unknown or revoked)"),
    (410, None, "An HTML page: the campaign is over (completed or archived)"),
    (502, None, "An HTML page: Spotify failed"),
    (503, None, "An HTML page: Spotify is not configured on this server"),
)


def _fan_routes(router: Router, ctx: ApiContext) -> None:
    spotify = ctx.settings.spotify

    @router.route("GET", "/v1/listen/<token>", summary="A fan opens a campaign's listener link",
                  access=Access.PUBLIC, status=302, other_responses=_FAN_PAGES,
                  description="Redirects the fan's browser to Spotify to grant user-read-recently-played; Spotify"
                              " returns to /v1/listen/callback. Unknown or revoked links answer 404, links of a"
                              " completed or archived campaign 410, both as HTML pages. While the Spotify app is"
                              " in development mode only the (at most 5) users allow-listed in its dashboard can"
                              " connect; the others get a page saying so.")
    async def open_listen_link(call: Call, token: str) -> Response:
        if spotify.client_id is None:
            return fan_page(503, "Not available", "Spotify is not set up on this server yet.")
        target = await store.link_target(call.db, token) if _plausible(token) else None
        if target is None:
            return fan_page(404, "Link not found", "This link does not exist or was withdrawn.")
        if target.campaign_status in CLOSED_STATUSES:
            return fan_page(410, "Campaign over", f"{target.campaign_name} has ended; thanks for your interest.")
        redirect_uri = listener_callback_url(ctx.public_url)
        state, (verifier, challenge) = secrets.token_urlsafe(32), spotify_oauth.pkce_pair()
        await states.save_oauth_state(
            call.db, ctx.keys.token_encryption_key, state=state, org_id=target.organization_id, user_id=None,
            provider="spotify", code_verifier=verifier, redirect_uri=redirect_uri, ttl=STATE_TTL,
            campaign_id=target.campaign_id)
        location = spotify_oauth.authorize_url(spotify.client_id, redirect_uri, LISTENER_SCOPES, state, challenge,
                                               spotify.accounts_url)
        return Response(b"", status=302, headers={"Location": location, "Cache-Control": "no-store"})

    @router.route("GET", "/v1/listen/callback", summary="Spotify returns a fan who opened a listener link",
                  access=Access.PUBLIC, query=ListenCallbackQuery, other_responses=_FAN_PAGES,
                  description="Exchanges the code (PKCE), reads the fan's Spotify profile, stores the account with"
                              " its tokens sealed and lists it on the campaign (again is harmless: the first"
                              " opt-in time is kept). Answers an HTML page for the fan, 200 when connected.")
    async def listen_callback(call: Call) -> Response:
        try:
            return await _finish_opt_in(call, ctx)
        except _FanPage as page:
            return fan_page(page.status, page.title, page.text)


class _FanPage(Exception):
    """An outcome the fan sees as a page; raised inside the callback, rendered by its route."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


_NOTHING = "Nothing was connected."
_START_AGAIN = "Open the campaign's link again to retry."


async def _finish_opt_in(call: Call, ctx: ApiContext) -> Response:
    spotify, query, key = ctx.settings.spotify, call.query, ctx.keys.token_encryption_key
    assert isinstance(query, ListenCallbackQuery)
    if spotify.client_id is None:
        raise _FanPage(503, "Not available", "Spotify is not set up on this server yet.")
    if query.error is not None:
        if query.state is not None:  # a refusal spends its state: the fan starts over from the link
            await states.consume_oauth_state(call.db, key, query.state, "spotify", purpose="listener")
        reason = "You declined access on Spotify." if query.error == "access_denied" else "Spotify refused it."
        raise _FanPage(400, "Not connected", f"{_NOTHING} {reason} {_START_AGAIN}")
    pending = None if query.state is None else await states.consume_oauth_state(
        call.db, key, query.state, "spotify", purpose="listener")
    if pending is None or query.code is None or pending.campaign_id is None or pending.code_verifier is None:
        raise _FanPage(400, "Link expired", f"{_NOTHING} This sign-in expired or was already used. {_START_AGAIN}")
    target = await store.get_campaign_target(call.db, pending.organization_id, pending.campaign_id)
    if target is None or target.campaign_status in CLOSED_STATUSES:
        raise _FanPage(410, "Campaign over", f"{_NOTHING} The campaign has ended.")
    tokens, (fan_id, name) = await _connect_fan(ctx, query.code, pending)
    async with call.db.transaction() as tx:  # no connection without its consent record
        listener, _ = await store.opt_in(
            tx, key, org_id=pending.organization_id, campaign_id=pending.campaign_id, spotify_user_id=fan_id,
            display_name=name, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
            token_expires_at=datetime.fromtimestamp(tokens.expires_at, UTC))
        consent_id = await consents.record_consent(
            tx, org_id=pending.organization_id, campaign_id=pending.campaign_id, listener_id=listener.id,
            spotify_user_id=fan_id, scopes=tokens.scope.split() or LISTENER_SCOPES, ip=request.remote_addr,
            user_agent=(request.headers.get("User-Agent") or "")[:300] or None)
    link_key = consent_links.link_key(ctx.keys.jwt_signing_key)
    revoke = f"{ctx.public_url}{consent_links.revoke_path(link_key, consent_id)}"
    return fan_page(200, "You're connected — thanks",
                    f"Thanks, {listener.display_name}: your Spotify account is now connected to"
                    f" {target.campaign_name}. Keep this page's link to withdraw your consent at any time: we"
                    " then disconnect your account and erase the plays we read.",
                    link=(revoke, "Withdraw my consent"))


async def _connect_fan(ctx: ApiContext, code: str,
                       pending: states.OAuthState) -> tuple[spotify_oauth.TokenSet, tuple[str, str]]:
    spotify = ctx.settings.spotify
    assert spotify.client_id is not None and pending.code_verifier is not None
    try:
        async with ctx.http_factory() as http:
            tokens = await spotify_oauth.exchange_code(
                http, code=code, verifier=pending.code_verifier, redirect_uri=pending.redirect_uri,
                client_id=spotify.client_id, token_url=f"{spotify.accounts_url}/api/token", now=ctx.now)
            return tokens, await _profile(http, spotify.api_url, tokens.access_token)
    except ReauthRequiredError:  # invalid_grant: a used, expired or foreign code
        raise _FanPage(400, "Not connected", f"{_NOTHING} Spotify did not accept the sign-in. {_START_AGAIN}") \
            from None
    except ProviderError as exc:
        raise _FanPage(502, "Spotify failed", f"{_NOTHING} Spotify did not answer as expected ({exc.message})."
                       f" {_START_AGAIN}") from exc


class _SpotifyUser(msgspec.Struct):
    id: str
    display_name: str | None = None


async def _profile(http: httpx.AsyncClient, api_url: str, access_token: str) -> tuple[str, str]:
    """The fan's Spotify id and name. A 403 here is development mode's allowlist (PROVIDERS.md B): Spotify
    grants the token but refuses every call for a user not registered in the app's dashboard."""
    with transport_errors():
        response = await http.get(f"{api_url}/v1/me", headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code == 403:
        raise _FanPage(403, "Not allowed yet",
                       f"{_NOTHING} This Spotify app is in development mode and accepts only the users its owner"
                       " has added (at most 5). Ask the label to add your Spotify account, then open the link"
                       " again.")
    classify(response)
    user = msgspec.json.decode(response.content, type=_SpotifyUser, strict=False)
    return user.id, user.display_name or user.id


def _plausible(token: str) -> bool:
    # Ours are 32 URL-safe characters; anything else (NUL included) never reaches SQL.
    return 0 < len(token) <= 64 and set(token) <= _TOKEN_CHARS


def fan_page(status: int, title: str, text: str, *, link: tuple[str, str] | None = None,
             form: tuple[str, str] | None = None) -> Response:
    """A small HTML page for a fan: a title, a sentence, and optionally a ``link`` or a POST ``form`` (its
    action and button label). No script, so it works under any content security policy."""
    extra = ""
    if link is not None:
        extra = f'<p><a href="{html.escape(link[0])}">{html.escape(link[1])}</a></p>'
    if form is not None:
        extra = (f'<form method="post" action="{html.escape(form[0])}">'
                 f'<button type="submit">{html.escape(form[1])}</button></form>')
    body = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{extra}</body></html>\n")
    return Response(body.encode(), status=status, content_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def _listener_routes(router: Router) -> None:
    @router.route("GET", "/v1/campaigns/<uuid:campaign_id>/listeners", summary="The campaign's connected listeners",
                  access=Access.VIEWER, query=PageQuery, response=ListenerList,
                  description="Fans who opted in through the campaign's link, latest first; search matches the"
                              " display name or Spotify user id.")
    async def list_listeners(call: Call, campaign_id: uuid.UUID) -> ListenerList:
        org_id, query = call.caller.organization_id, call.query
        if await store.get_campaign_target(call.db, org_id, campaign_id) is None:
            raise _no_campaign()
        page = await store.list_campaign_listeners(call.db, org_id, campaign_id, search=query.search_text(),
                                                   limit=query.limit, offset=query.offset)
        return ListenerList(listeners=page.items, pagination=Pagination.of(page))

    @router.route("DELETE", "/v1/campaigns/<uuid:campaign_id>/listeners/<uuid:listener_id>",
                  summary="Remove a listener from the campaign", access=Access.MEMBER, status=204,
                  description="A listener left on no campaign is deleted with its Spotify tokens.")
    async def remove_listener(call: Call, campaign_id: uuid.UUID, listener_id: uuid.UUID) -> None:
        if not await store.remove_from_campaign(call.db, call.caller.organization_id, campaign_id, listener_id):
            raise ApiError(404, "NOT_FOUND", "no such listener on this campaign")
