"""The typed Spotify Web API client: one method per endpoint we use, over an injected ``httpx.AsyncClient``.

Every response goes through ``classify``, so callers see data or an ``engine.provider`` error, never an
``httpx`` one. The client never refreshes tokens (``token_provider`` hands it a current one), never
sleeps and never retries: pacing and retries belong to the actors. Spotify sends no usage headers, so
successful calls carry no ``UsageSignal`` and we return plain data.

Paged endpoints are declared as ``PagedEndpoint`` values; ``page`` fetches one page of any of them and
``iter_pages`` follows ``next`` until it is absent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, overload
from urllib.parse import quote

import httpx
import msgspec

from adapters.spotify import schemas
from adapters.spotify.classify import classify, transport_errors
from adapters.spotify.schemas import (
    Artist,
    Cursors,
    Page,
    PlayHistory,
    Playlist,
    PlaylistItem,
    SavedTrack,
    SearchResults,
    Track,
    User,
)
from engine.provider import FatalProviderError, RetryableError

__all__ = [
    "API_URL",
    "PLAYLISTS",
    "SAVED_TRACKS",
    "TOP_ARTISTS",
    "TOP_TRACKS",
    "PagedEndpoint",
    "SpotifyClient",
    "TimeRange",
    "TokenProvider",
    "playlist_items_endpoint",
]

T = TypeVar("T")
TokenProvider = Callable[[], Awaitable[str]]
TimeRange = Literal["short_term", "medium_term", "long_term"]
API_URL = "https://api.spotify.com/v1"
PAGE_MAX = 50  # Spotify's largest page for the offset-paged /me endpoints
PLAYLIST_PAGE_MAX = 100  # playlist contents allow 100


@dataclass(frozen=True)
class PagedEndpoint(Generic[T]):
    """An offset-paged ``GET`` below the API root, and the decoder of its pages."""

    path: str
    decoder: msgspec.json.Decoder[Page[T]]


SAVED_TRACKS = PagedEndpoint("/me/tracks", schemas.saved_track_page_decoder)
PLAYLISTS = PagedEndpoint("/me/playlists", schemas.playlist_page_decoder)
TOP_TRACKS = PagedEndpoint("/me/top/tracks", schemas.track_page_decoder)
TOP_ARTISTS = PagedEndpoint("/me/top/artists", schemas.artist_page_decoder)


def playlist_items_endpoint(playlist_id: str) -> PagedEndpoint[PlaylistItem]:
    """A playlist's contents. We use the February 2026 path ``/items``: the old ``/tracks`` is 403 in
    development mode, and there only playlists the user owns or collaborates on answer."""
    return PagedEndpoint(f"/playlists/{quote(playlist_id, safe='')}/items", schemas.playlist_item_page_decoder)


class SpotifyClient:
    """One user's view of the Web API.

    ``token_provider`` is awaited before every request and must return a valid access token; refreshing
    it (``oauth.refresh``) is its job. ``base_url`` is the API root, ``https://api.spotify.com/v1``.

    Error handling: every method raises what ``classify`` raises (``RateLimitedError``,
    ``AuthExpiredError``, ``RetryableError``, ``FatalProviderError``), ``RetryableError`` on network
    failures and truncated bodies, and ``FatalProviderError`` when a 200 body does not fit our schema.
    """

    def __init__(self, http: httpx.AsyncClient, token_provider: TokenProvider, *, base_url: str = API_URL) -> None:
        self._http, self._token_provider, self._base = http, token_provider, base_url.rstrip("/")

    # -- single objects -------------------------------------------------------------------------------

    async def me(self) -> User:
        return await self._get("/me", schemas.user_decoder)

    async def track(self, track_id: str) -> Track:
        return await self._get(f"/tracks/{quote(track_id, safe='')}", schemas.track_decoder)

    async def artist(self, artist_id: str) -> Artist:
        return await self._get(f"/artists/{quote(artist_id, safe='')}", schemas.artist_decoder)

    async def search(self, q: str, type: str = "track", limit: int | None = None, offset: int = 0,
                     market: str | None = None) -> SearchResults:
        """``type`` is comma-separated (``"track,artist"``). ``limit=None`` leaves Spotify's default:
        development mode caps it at 10 (default 5), extended mode at 50 (default 20)."""
        params = {"q": q, "type": type, "offset": str(offset)}
        if limit is not None:
            params["limit"] = str(limit)
        if market is not None:
            params["market"] = market
        return await self._get("/search", schemas.search_decoder, params)

    # -- offset-paged collections ---------------------------------------------------------------------

    async def page(self, endpoint: PagedEndpoint[T], *, limit: int = PAGE_MAX, offset: int = 0,
                   params: Mapping[str, str] | None = None) -> Page[T]:
        """One page of ``endpoint``; ``params`` are extra query parameters (``time_range``…)."""
        query = {**(params or {}), "limit": str(limit), "offset": str(offset)}
        return await self._get(endpoint.path, endpoint.decoder, query)

    async def iter_pages(self, endpoint: PagedEndpoint[T], *, limit: int = PAGE_MAX,
                         params: Mapping[str, str] | None = None) -> AsyncIterator[Page[T]]:
        """Every page from offset 0, following ``next`` until it is absent.

        We follow ``next`` only below our own API root, so the bearer token never leaves it.
        """
        page = await self.page(endpoint, limit=limit, params=params)
        yield page
        while page.next:
            if not page.next.startswith(f"{self._base}/"):
                raise FatalProviderError(f"spotify: refusing to follow a next link off the API: {page.next!r}")
            page = await self._get(page.next, endpoint.decoder)
            yield page

    async def saved_tracks(self, limit: int = PAGE_MAX, offset: int = 0) -> Page[SavedTrack]:
        return await self.page(SAVED_TRACKS, limit=limit, offset=offset)

    async def playlists(self, limit: int = PAGE_MAX, offset: int = 0) -> Page[Playlist]:
        return await self.page(PLAYLISTS, limit=limit, offset=offset)

    async def playlist_items(self, playlist_id: str, limit: int = PLAYLIST_PAGE_MAX,
                             offset: int = 0) -> Page[PlaylistItem]:
        return await self.page(playlist_items_endpoint(playlist_id), limit=limit, offset=offset)

    @overload
    async def top(self, kind: Literal["tracks"], time_range: TimeRange = ..., limit: int = ...,
                  offset: int = ...) -> Page[Track]: ...

    @overload
    async def top(self, kind: Literal["artists"], time_range: TimeRange = ..., limit: int = ...,
                  offset: int = ...) -> Page[Artist]: ...

    async def top(self, kind: Literal["tracks", "artists"], time_range: TimeRange = "medium_term",
                  limit: int = PAGE_MAX, offset: int = 0) -> Page[Track] | Page[Artist]:
        """The user's top tracks or artists; raises ``ValueError`` for another ``kind``, before any call."""
        if kind == "tracks":
            return await self.page(TOP_TRACKS, limit=limit, offset=offset, params={"time_range": time_range})
        if kind == "artists":
            return await self.page(TOP_ARTISTS, limit=limit, offset=offset, params={"time_range": time_range})
        raise ValueError(f"kind must be 'tracks' or 'artists', not {kind!r}")

    async def all_saved_tracks(self) -> AsyncIterator[SavedTrack]:
        async for page in self.iter_pages(SAVED_TRACKS):
            for item in page.items:
                yield item

    async def all_playlists(self) -> AsyncIterator[Playlist]:
        async for page in self.iter_pages(PLAYLISTS):
            for item in page.items:
                yield item

    async def all_playlist_items(self, playlist_id: str) -> AsyncIterator[PlaylistItem]:
        async for page in self.iter_pages(playlist_items_endpoint(playlist_id), limit=PLAYLIST_PAGE_MAX):
            for item in page.items:
                yield item

    # -- cursor-paged ---------------------------------------------------------------------------------

    async def recently_played(self, after_ms: int | None = None, before_ms: int | None = None,
                              limit: int = PAGE_MAX) -> tuple[list[PlayHistory], Cursors | None]:
        """Up to ``limit`` finished plays, newest first, and the cursors (``None`` when there are none).

        Pass the last ``cursors.after`` as ``after_ms`` to get only newer plays. Spotify keeps only the
        50 most recent plays reachable. Raises ``ValueError`` before any call if both cursors are given.
        """
        if after_ms is not None and before_ms is not None:
            raise ValueError("after_ms and before_ms are mutually exclusive")
        params = {"limit": str(limit)}
        if after_ms is not None:
            params["after"] = str(after_ms)
        if before_ms is not None:
            params["before"] = str(before_ms)
        page = await self._get("/me/player/recently-played", schemas.play_history_page_decoder, params)
        return page.items, page.cursors

    # -- plumbing -------------------------------------------------------------------------------------

    async def _get(self, path_or_url: str, decoder: msgspec.json.Decoder[T],
                   params: dict[str, str] | None = None) -> T:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self._base}{path_or_url}"
        token = await self._token_provider()
        with transport_errors():
            response = await self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        classify(response)
        return _decode(decoder, response)


def _decode(decoder: msgspec.json.Decoder[T], response: httpx.Response) -> T:
    try:
        return decoder.decode(response.content)
    except msgspec.ValidationError as exc:  # valid JSON of another shape: retrying returns the same
        raise FatalProviderError(f"spotify: unexpected body from {response.url.path}: {exc}") from exc
    except msgspec.DecodeError as exc:  # truncated or not JSON: seen as a transient fault
        raise RetryableError(f"spotify: malformed body from {response.url.path}: {exc}") from exc
