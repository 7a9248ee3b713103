"""The shapes of the ``/v1/spotify`` routes and of ``POST /v1/tracks/sync/spotify``, and the mapping from
the Spotify client's lenient Structs (``adapters.spotify.schemas``) to them.

It owns our JSON, not Spotify's: every field Spotify may omit (development mode removed ``popularity``,
``followers``, ``country``, ``product``…, PROVIDERS.md B0) is ``null`` here rather than guessed. It makes
no calls; ``http_api.providers.spotify`` does.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta

from adapters.spotify import schemas as sp
from engine.store import tracks as store
from http_api.catalog.schemas import VISIBLE
from http_api.pagination import Pagination

__all__ = [
    "SPOTIFY_ID",
    "SearchQuery",
    "SpotifyAlbum",
    "SpotifyArtist",
    "SpotifyArtistRef",
    "SpotifyPageQuery",
    "SpotifyPlaylist",
    "SpotifyPlaylistList",
    "SpotifyProfile",
    "SpotifySearch",
    "SpotifyTrack",
    "SpotifyTrackAnalytics",
    "SpotifyTrackList",
    "SpotifyTrackSync",
    "album_out",
    "artist_out",
    "largest_image",
    "new_track",
    "pagination",
    "playlist_out",
    "profile_out",
    "release_date",
    "spotify_track_id",
    "track_out",
]

T = TypeVar("T")
SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")
# Search offsets stop at 1000 on Spotify; the /me collections take more, but no library is that long.
_LIBRARY_OFFSET_MAX = 100_000
_SEARCH_OFFSET_MAX = 1000
# What we accept as a track reference: a Spotify URI, an open.spotify.com link (with an optional
# "intl-xx" segment and query, as the share button makes them) or a bare id. The pattern is also the
# OpenAPI document's, so it stays ECMA 262-compatible; "(?!\n)$" keeps Python's "$" from taking "id\n".
_TRACK_REF = (r"^(?:spotify:track:[0-9A-Za-z]{22}"
              r"|https://open\.spotify\.com/(?:intl-[a-z]{2}(?:-[A-Za-z]{2})?/)?track/[0-9A-Za-z]{22}"
              r"(?:\?[0-9A-Za-z=&_.%-]*)?"
              r"|[0-9A-Za-z]{22})(?!\n)$")
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_HTTP_URL = re.compile(r"https?://[^\s/?#\x00][^\s\x00]{0,2000}")


# -- requests -------------------------------------------------------------------------------------------

class SpotifyPageQuery(msgspec.Struct, kw_only=True):
    """A window on one of the account's collections. Spotify serves at most 50 per page."""

    limit: Annotated[int, Meta(ge=1, le=50)] = 20
    offset: Annotated[int, Meta(ge=0, le=_LIBRARY_OFFSET_MAX)] = 0


class SearchQuery(msgspec.Struct, kw_only=True):
    """``limit`` is capped at 10 (default 5): development-mode apps get no more since February 2026, and
    the same cap is safe for extended-quota apps. ``offset`` stops at 1000, as on Spotify."""

    q: Annotated[str, Meta(min_length=1, max_length=200, pattern=VISIBLE,
                           description="Spotify's search syntax, e.g. `neon artist:wild` or `isrc:USRC17607839`")]
    type: Literal["track", "artist", "album"] = "track"
    limit: Annotated[int, Meta(ge=1, le=10)] = 5
    offset: Annotated[int, Meta(ge=0, le=_SEARCH_OFFSET_MAX)] = 0


class SpotifyTrackSync(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The track to import into the catalogue."""

    spotify_uri: Annotated[str, Meta(
        max_length=300, pattern=_TRACK_REF,
        description="spotify:track:<id>; an open.spotify.com/track/<id> link or a bare 22-character id also do",
        examples=["spotify:track:4uLU6hMCjMI75M1A2tKUQC"])]


def spotify_track_id(reference: str) -> str:
    """The 22-character id in a reference that matched ``SpotifyTrackSync``'s pattern."""
    return reference.split("?", 1)[0][-22:]


# -- responses ------------------------------------------------------------------------------------------

class SpotifyArtistRef(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    spotify_id: str
    name: str


class SpotifyAlbum(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    spotify_id: str
    name: str
    release_date: str | None  # as Spotify gives it: "2026", "2026-09" or "2026-09-01"
    release_date_precision: str | None
    image_url: str | None


class SpotifyTrack(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A track as Spotify describes it; ``spotifyId`` is null for a local file, ``addedAt`` outside the
    saved tracks, and ``popularity`` (0 to 100) for development-mode apps."""

    spotify_id: str | None
    name: str
    artists: list[SpotifyArtistRef]
    album: SpotifyAlbum | None
    duration_ms: int | None
    popularity: int | None
    added_at: datetime | None
    uri: str | None


class SpotifyTrackList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    tracks: list[SpotifyTrack]
    pagination: Pagination


class SpotifyProfile(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The connected account; ``country``, ``product`` and ``followers`` are null for development-mode apps."""

    id: str
    account_id: str | None
    display_name: str | None
    country: str | None
    product: str | None
    followers: int | None
    image_url: str | None
    uri: str | None


class SpotifyPlaylist(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    spotify_id: str
    name: str
    description: str | None
    owner_id: str | None
    owner_name: str | None
    public: bool | None
    collaborative: bool | None
    track_count: int | None
    image_url: str | None
    snapshot_id: str | None
    uri: str | None


class SpotifyPlaylistList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    playlists: list[SpotifyPlaylist]
    pagination: Pagination


class SpotifyArtist(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An artist; ``followers`` and ``popularity`` are null for development-mode apps."""

    spotify_id: str
    name: str
    genres: list[str]
    followers: int | None
    popularity: int | None
    image_url: str | None
    uri: str | None


class SpotifySearch(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One page of the requested type's results; the lists of the other two types are empty."""

    type: Literal["track", "artist", "album"]
    tracks: list[SpotifyTrack]
    artists: list[SpotifyArtist]
    albums: list[SpotifyAlbum]
    pagination: Pagination


class SpotifyTrackAnalytics(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What Spotify says about a track, and where it sits in our catalogue. No stream counts: Spotify's
    Web API has none; they come from the stream pipeline (S4A exports, aggregators) later."""

    spotify_id: str
    name: str
    popularity: int | None
    artists: list[SpotifyArtist]
    catalog_track_id: uuid.UUID | None
    campaigns: list[store.LinkedCampaign]


# -- mapping --------------------------------------------------------------------------------------------

def largest_image(images: list[sp.Image] | None) -> str | None:
    """The URL of the biggest image (Spotify usually lists the widest first, but does not promise it)."""
    if not images:
        return None
    return max(images, key=lambda image: (image.width or 0) * (image.height or 0)).url


def pagination(page: sp.Page[T] | None, limit: int, offset: int) -> Pagination:
    """Our pagination block for a Spotify paging object (``None``: an empty one); ``total`` falls back to
    what we have seen."""
    if page is None:
        return Pagination(total=0, limit=limit, offset=offset, has_next=False)
    seen = offset + len(page.items)
    return Pagination(total=seen if page.total is None else page.total, limit=limit, offset=offset,
                      has_next=page.next is not None)


def album_out(album: sp.Album) -> SpotifyAlbum:
    return SpotifyAlbum(spotify_id=album.id, name=album.name, release_date=album.release_date,
                        release_date_precision=album.release_date_precision, image_url=largest_image(album.images))


def track_out(track: sp.Track, added_at: datetime | None = None) -> SpotifyTrack:
    album = None if track.album is None else album_out(track.album)
    return SpotifyTrack(spotify_id=track.id, name=track.name, album=album,
                        artists=[SpotifyArtistRef(spotify_id=a.id, name=a.name) for a in track.artists],
                        duration_ms=track.duration_ms, popularity=track.popularity, added_at=added_at, uri=track.uri)


def profile_out(user: sp.User) -> SpotifyProfile:
    return SpotifyProfile(id=user.id, account_id=user.account_id, display_name=user.display_name,
                          country=user.country, product=user.product,
                          followers=None if user.followers is None else user.followers.total,
                          image_url=largest_image(user.images), uri=user.uri)


def playlist_out(playlist: sp.Playlist) -> SpotifyPlaylist:
    owner = playlist.owner
    return SpotifyPlaylist(spotify_id=playlist.id, name=playlist.name, description=playlist.description,
                           owner_id=None if owner is None else owner.id,
                           owner_name=None if owner is None else owner.display_name,
                           public=playlist.public, collaborative=playlist.collaborative,
                           track_count=None if playlist.tracks is None else playlist.tracks.total,
                           image_url=largest_image(playlist.images), snapshot_id=playlist.snapshot_id,
                           uri=playlist.uri)


def artist_out(artist: sp.Artist) -> SpotifyArtist:
    return SpotifyArtist(spotify_id=artist.id, name=artist.name, genres=artist.genres,
                         followers=None if artist.followers is None else artist.followers.total,
                         popularity=artist.popularity, image_url=largest_image(artist.images), uri=artist.uri)


def release_date(value: str | None, precision: str | None) -> date | None:
    """Spotify's ``release_date`` as a date: ``"2026"`` (precision ``year``) is 1 January, ``"2026-09"``
    (``month``) the 1st of the month. ``None`` for anything else, such as the ``"0000"`` old albums have."""
    if not value:
        return None
    parts = value.split("-")
    expected = {"year": 1, "month": 2, "day": 3}.get(precision or "", len(parts))
    if len(parts) != expected or expected > 3 or not all(p.isdigit() for p in parts):
        return None
    year, month, day = (int(p) for p in [*parts, "1", "1"][:3])
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _text(value: str) -> str:
    return value.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL


def new_track(track: sp.Track, spotify_id: str) -> store.NewTrack | None:
    """The catalogue fields for a Spotify track, or ``None`` when it has no name or no artist to file it
    under. Values our API would refuse on a PATCH (an ISRC with hyphens, a non-web image URL) are dropped,
    so a synced track can be edited and saved back as it is."""
    title = _text(track.name)[:300]
    artist = _text(", ".join(a.name for a in track.artists if _text(a.name)))[:300]
    if not title or not artist:
        return None
    album = None if track.album is None else (_text(track.album.name)[:300] or None)
    isrc = (track.isrc or "").replace("-", "").upper()
    cover = None if track.album is None else largest_image(track.album.images)
    ms = track.duration_ms
    return store.NewTrack(
        title=title, artist=artist, album=album,
        release_date=None if track.album is None else release_date(track.album.release_date,
                                                                   track.album.release_date_precision),
        duration=max(1, round(ms / 1000)) if ms is not None and 0 < ms <= 86_400_000 else None,
        spotify_id=spotify_id, isrc=isrc if _ISRC.fullmatch(isrc) else None,
        cover_art_url=cover if cover is not None and _HTTP_URL.fullmatch(cover) else None)
