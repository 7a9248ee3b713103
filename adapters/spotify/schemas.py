"""Lenient Structs for the Spotify Web API's JSON, and their decoders, built once at import.

Lenient means: unknown fields are ignored, every field Spotify removed or may omit (``popularity``,
``followers``, ``email``…, PROVIDERS.md B0) defaults to ``None``, and decoders run with
``strict=False``. What a client may rely on is required: object ids, a page's ``items``. We do not
validate business rules here, and we do not decode accounts-service (OAuth) bodies: ``oauth`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "Album",
    "Artist",
    "Context",
    "CursorPage",
    "Cursors",
    "ExternalIds",
    "Followers",
    "Image",
    "Page",
    "PlayHistory",
    "Playlist",
    "PlaylistItem",
    "SavedTrack",
    "SearchResults",
    "SimpleArtist",
    "Track",
    "TracksRef",
    "User",
]

T = TypeVar("T")


class _Lenient(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Keyword-only, so that adding a field with a default never breaks a caller."""


class Image(_Lenient):
    url: str
    height: int | None = None
    width: int | None = None


class Followers(_Lenient):
    total: int | None = None


class ExternalIds(_Lenient):
    isrc: str | None = None
    upc: str | None = None
    ean: str | None = None


class SimpleArtist(_Lenient):
    id: str
    name: str = ""
    uri: str | None = None


class Album(_Lenient):
    id: str
    name: str = ""
    album_type: str | None = None
    release_date: str | None = None  # "2026", "2026-09" or "2026-09-01": see release_date_precision
    release_date_precision: str | None = None
    total_tracks: int | None = None
    artists: list[SimpleArtist] = []
    images: list[Image] = []
    uri: str | None = None


class Track(_Lenient):
    """A full track. ``id`` is ``None`` for local files; ``popularity`` only reaches extended-quota apps."""

    id: str | None = None
    name: str = ""
    uri: str | None = None
    duration_ms: int | None = None
    explicit: bool | None = None
    album: Album | None = None
    artists: list[SimpleArtist] = []
    external_ids: ExternalIds | None = None  # removed in February 2026, back since March 2026
    popularity: int | None = None
    track_number: int | None = None
    disc_number: int | None = None
    is_local: bool | None = None

    @property
    def isrc(self) -> str | None:
        return self.external_ids.isrc if self.external_ids else None


class Artist(_Lenient):
    """A full artist; ``followers`` and ``popularity`` are ``None`` in development mode."""

    id: str
    name: str = ""
    uri: str | None = None
    genres: list[str] = []
    images: list[Image] = []
    followers: Followers | None = None
    popularity: int | None = None


class User(_Lenient):
    """``/me``. ``account_id`` (May 2026) is the stable id to link accounts by; the private fields
    (``email``, ``country``, ``product``, ``followers``) are ``None`` in development mode."""

    id: str
    display_name: str | None = None
    uri: str | None = None
    account_id: str | None = None
    images: list[Image] = []
    email: str | None = None
    country: str | None = None
    product: str | None = None
    followers: Followers | None = None


class TracksRef(_Lenient):
    href: str | None = None
    total: int | None = None


class Playlist(_Lenient):
    """A simplified playlist in either shape: extended ``tracks{href,total}`` or development-mode
    ``items{href,total}`` (February 2026). Both decode to ``tracks``; ``contents`` is always ``None``
    after decoding, it only exists to receive the renamed key."""

    id: str
    name: str = ""
    uri: str | None = None
    description: str | None = None
    public: bool | None = None
    collaborative: bool | None = None
    snapshot_id: str | None = None
    owner: User | None = None
    images: list[Image] | None = None  # Spotify sends null here for empty playlists
    tracks: TracksRef | None = None
    contents: TracksRef | None = msgspec.field(default=None, name="items")

    def __post_init__(self) -> None:
        # msgspec runs this after decoding too: we fold the renamed key into one field.
        if self.contents is not None:
            if self.tracks is None:
                self.tracks = self.contents
            self.contents = None


class PlaylistItem(_Lenient):
    """One entry of a playlist's contents. Development mode (February 2026) renamed ``track`` to
    ``item``; both decode to ``track`` (``renamed`` is always ``None`` after decoding). ``track`` is
    ``None`` for entries Spotify cannot show; an episode decodes as a ``Track`` with its common fields."""

    added_at: datetime | None = None
    is_local: bool | None = None
    track: Track | None = None
    renamed: Track | None = msgspec.field(default=None, name="item")

    def __post_init__(self) -> None:
        if self.renamed is not None:
            if self.track is None:
                self.track = self.renamed
            self.renamed = None


class SavedTrack(_Lenient):
    added_at: datetime
    track: Track


class Context(_Lenient):
    type: str | None = None
    uri: str | None = None
    href: str | None = None


class PlayHistory(_Lenient):
    track: Track
    played_at: datetime
    context: Context | None = None


class Page(_Lenient, Generic[T]):
    """The offset paging object; ``next`` is ``None`` (or absent) on the last page."""

    items: list[T]
    href: str | None = None
    limit: int | None = None
    next: str | None = None
    offset: int | None = None
    previous: str | None = None
    total: int | None = None


class Cursors(_Lenient):
    """Unix milliseconds as strings, as Spotify sends them."""

    after: str | None = None
    before: str | None = None


class CursorPage(_Lenient, Generic[T]):
    """Recently played: ``cursors`` is ``None`` on an empty page; ``next`` pages back in time."""

    items: list[T]
    href: str | None = None
    limit: int | None = None
    next: str | None = None
    cursors: Cursors | None = None
    total: int | None = None


class SearchResults(_Lenient):
    """One page per requested type; Spotify has sent ``null`` entries among playlist results."""

    tracks: Page[Track] | None = None
    artists: Page[Artist] | None = None
    albums: Page[Album] | None = None
    playlists: Page[Playlist | None] | None = None


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    return msgspec.json.Decoder(kind, strict=False)


user_decoder = _decoder(User)
track_decoder = _decoder(Track)
artist_decoder = _decoder(Artist)
playlist_decoder = _decoder(Playlist)
search_decoder = _decoder(SearchResults)
track_page_decoder = _decoder(Page[Track])
artist_page_decoder = _decoder(Page[Artist])
playlist_page_decoder = _decoder(Page[Playlist])
playlist_item_page_decoder = _decoder(Page[PlaylistItem])
saved_track_page_decoder = _decoder(Page[SavedTrack])
play_history_page_decoder = _decoder(CursorPage[PlayHistory])
encoder = msgspec.json.Encoder()
