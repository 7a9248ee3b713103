"""`/v1/tracks`: the songs an organization markets, read by any member and written by members and up.

Everything is scoped to the caller's organization in the store; another organization's track answers
404, as a missing one does. Syncing tracks from Spotify is not here.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.store import tracks as store
from http_api.catalog.schemas import VISIBLE, Label, PageQuery, Url, patch_changes
from http_api.context import ApiContext
from http_api.errors import not_found, store_errors
from http_api.pagination import Pagination
from http_api.routing import Access, Call, Router

__all__ = ["TrackCreate", "TrackList", "TrackPatch", "TrackQuery", "add_track", "tracks_router"]

Title = Annotated[
    str,
    Meta(min_length=1, max_length=300, pattern=VISIBLE, description="1 to 300 characters, not blank"),
]
# The length bounds on the patterned strings are not redundant: Python's "$" would let a final "\n" in.
Duration = Annotated[int, Meta(gt=0, le=86_400, description="Length in whole seconds (at most a day)")]
SpotifyId = Annotated[
    str, Meta(min_length=22, max_length=22, pattern=r"^[0-9A-Za-z]{22}$",
              description="Spotify's base-62 track id (22 characters)", examples=["4uLU6hMCjMI75M1A2tKUQC"]),
]
Isrc = Annotated[
    str, Meta(min_length=12, max_length=12, pattern=r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$",
              description="International Standard Recording Code, 12 characters without hyphens",
              examples=["USRC17607839"]),
]
Genres = Annotated[list[Label], Meta(max_length=20, description="At most 20 genres")]


class TrackCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A track to add. Only ``title`` and ``artist`` are required; ``spotifyId`` is unique in the
    organization."""

    title: Title
    artist: Title
    album: Title | None = None
    release_date: date | None = None
    duration: Duration | None = None
    spotify_id: SpotifyId | None = None
    isrc: Isrc | None = None
    cover_art_url: Url | None = None
    genres: Genres = []


class TrackPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The fields to change; absent fields stay as they are and ``null`` clears a field that may be empty
    (every field but ``title``, ``artist`` and ``genres``, which is cleared with ``[]``)."""

    title: Title | UnsetType = UNSET
    artist: Title | UnsetType = UNSET
    album: Title | UnsetType | None = UNSET
    release_date: date | UnsetType | None = UNSET
    duration: Duration | UnsetType | None = UNSET
    spotify_id: SpotifyId | UnsetType | None = UNSET
    isrc: Isrc | UnsetType | None = UNSET
    cover_art_url: Url | UnsetType | None = UNSET
    genres: Genres | UnsetType = UNSET


class TrackQuery(PageQuery):
    """A page of tracks, newest first; ``search`` matches the title or the artist."""


class TrackList(msgspec.Struct, frozen=True, kw_only=True):
    tracks: list[store.Track]
    pagination: Pagination


def tracks_router(ctx: ApiContext) -> Router:
    router = Router("tracks", ctx, tag="Tracks")

    @router.route("GET", "/v1/tracks", summary="List tracks", access=Access.VIEWER, query=TrackQuery,
                  response=TrackList)
    async def list_tracks(call: Call) -> TrackList:
        query: TrackQuery = call.query
        page = await store.list_tracks(call.db, call.caller.organization_id, search=query.search_text(),
                                       limit=query.limit, offset=query.offset)
        return TrackList(tracks=page.items, pagination=Pagination.of(page))

    @router.route("POST", "/v1/tracks", summary="Add a track", access=Access.MEMBER, body=TrackCreate,
                  response=store.Track, status=201, errors=(409,),
                  description="409 CONFLICT (field `spotifyId`) when another track has the Spotify id.")
    async def create_track(call: Call) -> store.Track:
        return await add_track(call, call.body)

    @router.route("GET", "/v1/tracks/<uuid:track_id>", summary="Get a track", access=Access.VIEWER,
                  response=store.Track)
    async def get_track(call: Call, track_id: uuid.UUID) -> store.Track:
        track = await store.get_track(call.db, call.caller.organization_id, track_id)
        if track is None:
            raise not_found("track")
        return track

    @router.route("PATCH", "/v1/tracks/<uuid:track_id>", summary="Change some of a track's fields",
                  access=Access.MEMBER, body=TrackPatch, response=store.Track, errors=(409,),
                  description="409 CONFLICT (field `spotifyId`) when another track has the Spotify id.")
    async def update_track(call: Call, track_id: uuid.UUID) -> store.Track:
        changes = patch_changes(call.body)
        with store_errors():
            track = await store.update_track(call.db, call.caller.organization_id, track_id, changes)
        if track is None:
            raise not_found("track")
        return track

    @router.route("DELETE", "/v1/tracks/<uuid:track_id>", summary="Delete a track", access=Access.MEMBER,
                  status=204, description="Campaigns that promoted the track stay, without a track.")
    async def delete_track(call: Call, track_id: uuid.UUID) -> None:
        if not await store.delete_track(call.db, call.caller.organization_id, track_id):
            raise not_found("track")

    return router


async def add_track(call: Call, body: TrackCreate) -> store.Track:
    """Add ``body`` to the caller's catalogue (``POST /v1/tracks`` and the console's form). Raises 409 naming
    ``spotifyId`` when another track has it."""
    with store_errors():
        return await store.create_track(call.db, call.caller.organization_id,
                                        store.NewTrack(**msgspec.structs.asdict(body)))
