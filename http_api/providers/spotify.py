"""`/v1/spotify/...`: the organization's connected Spotify account, read through the Spotify Web API, and
``POST /v1/tracks/sync/spotify``, which files a Spotify track in the catalogue.

Every call goes through ``http_api.providers.clients.spotify_client``: it refreshes the account's token and turns
Spotify's failures into ``INTEGRATION_ERROR`` (409 not connected or needs re-authorization, 502 Spotify
failed, 503 not configured). We never catch provider errors here, and we keep store writes outside the
client's block, so that a store error can never be mistaken for a provider one. Shapes and mapping live in
``http_api.providers.spotify_schemas``.
"""

from __future__ import annotations

from quart import Response
from werkzeug.routing import UnicodeConverter

from adapters.spotify.schemas import Artist
from engine.store import tracks as store
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.providers.clients import PROVIDER_ERRORS, spotify_client
from http_api.providers.spotify_schemas import (
    SPOTIFY_ID,
    SearchQuery,
    SpotifyArtist,
    SpotifyPageQuery,
    SpotifyPlaylistList,
    SpotifyProfile,
    SpotifySearch,
    SpotifyTrackAnalytics,
    SpotifyTrackList,
    SpotifyTrackSync,
    album_out,
    artist_out,
    new_track,
    pagination,
    playlist_out,
    profile_out,
    spotify_track_id,
    track_out,
)
from http_api.responses import json_response
from http_api.routing import Access, Call, Router

__all__ = ["SpotifyIdText", "spotify_router", "sync_track"]

# Spotify removed its batch /artists?ids= for development-mode apps (February 2026), so the analytics
# read artists one call each; a track credits a handful at most, and we stop at this many.
_ARTISTS_MAX = 5
_READ = "Reads the connected Spotify account. " + (
    "409 INTEGRATION_ERROR when no account is connected or it must be connected again, 502 when Spotify "
    "refuses or fails (with Spotify's message, and Retry-After when Spotify rate-limits us), 503 when "
    "Spotify is not configured on this server.")


class SpotifyIdText(UnicodeConverter):
    """A path segment that stands for a Spotify id: the OpenAPI document gives it Spotify's pattern. It
    matches any segment, as plain text does: the handler checks the id, so a bad one is a 400 naming the
    field rather than a 404."""


def _checked_id(value: str, field: str) -> str:
    if not SPOTIFY_ID.fullmatch(value):
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail(field, "expected Spotify's 22-character base-62 id")])
    return value


def spotify_router(ctx: ApiContext) -> Router:
    router = Router("spotify", ctx, tag="Spotify")
    _account_routes(router)
    _catalog_routes(router)
    _sync_route(router)
    return router


def _account_routes(router: Router) -> None:
    @router.route("GET", "/v1/spotify/profile", summary="The connected Spotify account's profile",
                  access=Access.VIEWER, response=SpotifyProfile, errors=PROVIDER_ERRORS,
                  description=_READ + " `country`, `product` and `followers` are null for development-mode"
                  " apps, which Spotify no longer sends them to.")
    async def spotify_profile(call: Call) -> SpotifyProfile:
        async with spotify_client(call) as client:
            return profile_out(await client.me())

    @router.route("GET", "/v1/spotify/tracks", summary="The connected account's saved tracks",
                  access=Access.VIEWER, query=SpotifyPageQuery, response=SpotifyTrackList, errors=PROVIDER_ERRORS,
                  description=_READ + " Most recently saved first; `popularity` is null for development-mode apps.")
    async def spotify_tracks(call: Call) -> SpotifyTrackList:
        query: SpotifyPageQuery = call.query
        async with spotify_client(call) as client:
            page = await client.saved_tracks(limit=query.limit, offset=query.offset)
        return SpotifyTrackList(tracks=[track_out(item.track, item.added_at) for item in page.items],
                                pagination=pagination(page, query.limit, query.offset))

    @router.route("GET", "/v1/spotify/playlists", summary="The connected account's playlists",
                  access=Access.VIEWER, query=SpotifyPageQuery, response=SpotifyPlaylistList,
                  errors=PROVIDER_ERRORS, description=_READ)
    async def spotify_playlists(call: Call) -> SpotifyPlaylistList:
        query: SpotifyPageQuery = call.query
        async with spotify_client(call) as client:
            page = await client.playlists(limit=query.limit, offset=query.offset)
        return SpotifyPlaylistList(playlists=[playlist_out(p) for p in page.items],
                                   pagination=pagination(page, query.limit, query.offset))


def _catalog_routes(router: Router) -> None:
    @router.route("GET", "/v1/spotify/tracks/<spotify_id:spotify_id>/analytics",
                  summary="What Spotify says about a track", access=Access.VIEWER, response=SpotifyTrackAnalytics,
                  errors=PROVIDER_ERRORS,
                  description=_READ + " Spotify's popularity of the track and its artists' followers and"
                  " popularity (null for development-mode apps), and, when the track is in the catalogue"
                  " (by `spotifyId`), its id and the campaigns promoting it. There are no stream counts:"
                  " Spotify's Web API has none; streams come from the stream pipeline, per campaign.")
    async def spotify_track_analytics(call: Call, spotify_id: str) -> SpotifyTrackAnalytics:
        track_id = _checked_id(spotify_id, "spotifyId")
        artists: list[Artist] = []
        async with spotify_client(call) as client:
            track = await client.track(track_id)
            for ref in track.artists[:_ARTISTS_MAX]:
                artists.append(await client.artist(ref.id))
        org_id = call.caller.organization_id
        ours = await store.get_track_by_spotify_id(call.db, org_id, track_id)
        campaigns = [] if ours is None else await store.campaigns_of_track(call.db, org_id, ours.id)
        return SpotifyTrackAnalytics(spotify_id=track.id or track_id, name=track.name, popularity=track.popularity,
                              artists=[artist_out(a) for a in artists],
                              catalog_track_id=None if ours is None else ours.id, campaigns=campaigns)

    @router.route("GET", "/v1/spotify/artists/<spotify_id:artist_id>", summary="One Spotify artist",
                  access=Access.VIEWER, response=SpotifyArtist, errors=PROVIDER_ERRORS,
                  description=_READ + " `followers` and `popularity` are null for development-mode apps.")
    async def spotify_artist(call: Call, artist_id: str) -> SpotifyArtist:
        checked = _checked_id(artist_id, "artistId")
        async with spotify_client(call) as client:
            return artist_out(await client.artist(checked))

    @router.route("GET", "/v1/spotify/search", summary="Search Spotify's catalogue", access=Access.VIEWER,
                  query=SearchQuery, response=SpotifySearch, errors=PROVIDER_ERRORS,
                  description=_READ + " One type per search; `limit` is at most 10, the development-mode cap.")
    async def spotify_search(call: Call) -> SpotifySearch:
        query: SearchQuery = call.query
        async with spotify_client(call) as client:
            found = await client.search(query.q, type=query.type, limit=query.limit, offset=query.offset)
        window = (query.limit, query.offset)
        if query.type == "track":
            tracks = found.tracks
            return SpotifySearch(type="track", tracks=[] if tracks is None else [track_out(t) for t in tracks.items],
                                 artists=[], albums=[], pagination=pagination(tracks, *window))
        if query.type == "artist":
            artists = found.artists
            return SpotifySearch(type="artist", tracks=[], albums=[], pagination=pagination(artists, *window),
                                 artists=[] if artists is None else [artist_out(a) for a in artists.items])
        albums = found.albums
        return SpotifySearch(type="album", tracks=[], artists=[], pagination=pagination(albums, *window),
                             albums=[] if albums is None else [album_out(a) for a in albums.items])


def _sync_route(router: Router) -> None:
    @router.route("POST", "/v1/tracks/sync/spotify", summary="Add or refresh a track from Spotify",
                  access=Access.MEMBER, body=SpotifyTrackSync, response=store.Track, status=201,
                  errors=PROVIDER_ERRORS,
                  other_responses=((200, store.Track, "The organization already had the track (same "
                                    "`spotifyId`): its metadata was refreshed from Spotify"),),
                  description="Fetches the track from Spotify and creates the catalogue track (201): title,"
                  " artist (the artists' names joined), album, release date (a year or a month alone means"
                  " its first day), duration, ISRC when Spotify sends it and the largest cover image."
                  " When the organization already has a track with that `spotifyId`, we refresh the same"
                  " fields (keeping stored values Spotify leaves out, and its genres) and answer 200."
                  " 409/502/503 INTEGRATION_ERROR as the other Spotify routes.")
    async def sync_spotify_track(call: Call) -> Response | store.Track:
        saved, created = await sync_track(call, call.body)
        return saved if created else json_response(saved, 200)


async def sync_track(call: Call, body: SpotifyTrackSync) -> tuple[store.Track, bool]:
    """File the Spotify track ``body`` names in the caller's catalogue, or refresh the one with its id; the
    track and whether it is new (``POST /v1/tracks/sync/spotify`` and the console's form). Raises
    ``INTEGRATION_ERROR`` as the other Spotify routes."""
    track_id = spotify_track_id(body.spotify_uri)
    async with spotify_client(call) as client:
        track = await client.track(track_id)
    fields = new_track(track, track.id or track_id)
    if fields is None:
        raise ApiError(502, "INTEGRATION_ERROR", f"Spotify: track {track_id} has no name or no artist")
    return await store.upsert_spotify_track(call.db, call.caller.organization_id, fields)
