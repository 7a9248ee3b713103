"""The console's tracks pages: ``GET /app/tracks`` lists the catalogue as ``GET /v1/tracks`` does (the same query,
limits and store call) with the forms to add a track (``POST /app/tracks``, ``POST /v1/tracks``'s ``add_track``)
and to file one from Spotify (``POST /app/tracks/sync``, ``POST /v1/tracks/sync/spotify``'s ``sync_track``);
``GET /app/tracks/<id>`` shows one track with its analytics of the default period (the engine's
``track_analytics``, as ``GET /v1/analytics/tracks/{id}``) and the campaigns that promoted it.

A refusal (a field the API names, a Spotify id another track has, Spotify not connected) is shown next to its
field with nothing changed; done, the browser goes to the track's page, which says what was done once.
"""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, render_template, request

from engine.analytics.track import track_analytics
from engine.store import tracks as store
from engine.store.sessions import SessionCheck
from http_api.analytics.analytics import analytics_rules, track_period
from http_api.catalog.tracks import TrackCreate, TrackQuery, add_track
from http_api.console.acting import acting_call, allowed, form_session, layout
from http_api.console.guard import page_session
from http_api.console.listing import list_query, page_links
from http_api.console.missing import not_found_page
from http_api.console.responses import html_page
from http_api.context import ApiContext
from http_api.errors import ApiError
from http_api.providers.console_landing import FLASH_COOKIE, flash_shown, land_in_console
from http_api.providers.spotify import sync_track
from http_api.providers.spotify_schemas import SpotifyTrackSync
from http_api.routing import Access
from http_api.validation import validate

__all__ = ["add_tracks_routes"]

_PAGE = "/app/tracks"
_ADD_FIELDS = ("title", "artist", "album", "releaseDate", "isrc")


def add_tracks_routes(bp: Blueprint, ctx: ApiContext) -> None:
    @bp.get(_PAGE)
    async def tracks_page() -> Response:
        session = await page_session(ctx)
        return flash_shown(await _list_page(ctx, session))

    @bp.post(_PAGE)
    async def track_add() -> Response:
        session = await form_session(ctx, Access.MEMBER)
        form = await request.form
        given = {field: form.get(field, "").strip() for field in _ADD_FIELDS}
        try:
            # An optional field left empty is not sent, as a client leaves it out.
            body = validate({k: v for k, v in given.items() if v}, TrackCreate, strict=False)
            track = await add_track(acting_call(ctx, session), body)
        except ApiError as error:
            errors = {d.field: d.message for d in error.details} or {"form": error.message}
            return await _list_page(ctx, session, added=given, add_errors=errors, status=error.status)
        return _to_track(ctx, track.id, f"{track.title} by {track.artist} is added.")

    @bp.post(f"{_PAGE}/sync")
    async def track_sync() -> Response:
        session = await form_session(ctx, Access.MEMBER)
        uri = (await request.form).get("spotifyUri", "").strip()
        try:
            track, created = await sync_track(acting_call(ctx, session), validate({"spotifyUri": uri},
                                                                                  SpotifyTrackSync))
        except ApiError as error:  # Spotify's refusals (not connected, failed) are about this one field
            errors = {d.field: d.message for d in error.details if d.field == "spotifyUri"} or {
                "spotifyUri": error.message}
            return await _list_page(ctx, session, uri=uri, sync_errors=errors, status=error.status)
        done = "added from Spotify" if created else "refreshed from Spotify (it was in the catalogue)"
        return _to_track(ctx, track.id, f"{track.title} by {track.artist} is {done}.")

    @bp.get(f"{_PAGE}/<uuid:track_id>")
    async def track_page(track_id: uuid.UUID) -> Response:
        session = await page_session(ctx)
        track = await store.get_track(ctx.db(), session.organization_id, track_id)
        if track is None:
            return await not_found_page("track")
        now = ctx.domain_now()
        report = await track_analytics(ctx.db(), session.organization_id, track_id, track_period(now.date()),
                                       rules=analytics_rules(ctx), now=now)
        html = await render_template("console/track.html", **await layout(ctx, session), track=track,
                                     report=report, flash=request.cookies.get(FLASH_COOKIE))
        return flash_shown(html_page(html))


def _to_track(ctx: ApiContext, track_id: uuid.UUID, message: str) -> Response:
    return land_in_console(message, public_url=ctx.public_url, page=f"{_PAGE}/{track_id}")


async def _list_page(ctx: ApiContext, session: SessionCheck, *, added: dict[str, str] | None = None,
                     add_errors: dict[str, str] | None = None, uri: str = "",
                     sync_errors: dict[str, str] | None = None, status: int = 200) -> Response:
    query, given, errors = list_query(TrackQuery)
    page = await store.list_tracks(ctx.db(), session.organization_id, search=query.search_text(),
                                   limit=query.limit, offset=query.offset)
    html = await render_template(
        "console/tracks.html", **await layout(ctx, session), page=page, query=query, errors=errors,
        **page_links(_PAGE, given, page), may_change=allowed(session, Access.MEMBER),
        added=added or dict.fromkeys(_ADD_FIELDS, ""), add_errors=add_errors or {}, uri=uri,
        sync_errors=sync_errors or {}, flash=request.cookies.get(FLASH_COOKIE))
    return html_page(html, 400 if errors and status == 200 else status)
