"""The catalogue part of ``/v1``: tracks, artists, top tracks, audio features, search and playlist
contents (PROVIDERS.md B0, B2).

Handlers are plain functions of (request, grant, path match) that return a ``Response`` or raise
``ApiFailure``; authentication, the allowlist, scopes, limits and faults happen before them, in ``app``.
The per-user endpoints (``/me/...``) live in ``library``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeVar

from adapters.spotify.simulator.catalog import Artist, Track
from adapters.spotify.simulator.config import SimulatorConfig
from adapters.spotify.simulator.oauth import Grant
from adapters.spotify.simulator.render import Renderer, iso, paging
from adapters.spotify.simulator.wire import (
    ApiFailure,
    JsonObject,
    Request,
    Response,
    api_error,
    int_param,
    json_response,
)

__all__ = ["CatalogApi", "Handler", "Route", "page_params", "route"]

Handler = Callable[[Request, Grant, "re.Match[str]"], Response]
_ID = r"([^/]+)"
_BASE62_ID = re.compile(r"[0-9A-Za-z]{22}")
_SEARCH_TYPES = ("album", "artist", "playlist", "track")

_T = TypeVar("_T")


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    scope: str | None  # the OAuth scope the endpoint needs, if any
    handler: Handler


def route(method: str, path: str, handler: Handler, scope: str | None = None) -> Route:
    return Route(method, re.compile(f"{path}/?"), scope, handler)


def page_params(req: Request, *, default: int = 20, maximum: int = 50) -> tuple[int, int]:
    """``(limit, offset)`` with Spotify's bounds: limit 1..maximum, offset 0..1000 here."""
    return int_param(req, "limit", default, 1, maximum), int_param(req, "offset", 0, 0, 100_000)


class CatalogApi:
    """``/v1/tracks``, ``/v1/artists``, ``/v1/audio-features``, ``/v1/recommendations``, ``/v1/search``
    and playlist contents."""

    def __init__(self, render: Renderer, config: SimulatorConfig) -> None:
        self._render, self._catalog = render, render.catalog
        self._mode, self._seed, self._origin = config.mode, config.seed, config.start.timestamp()

    def routes(self) -> list[Route]:
        return [
            route("GET", f"/v1/tracks/{_ID}", self.track),
            route("GET", f"/v1/artists/{_ID}/top-tracks", self.artist_top_tracks),
            route("GET", f"/v1/artists/{_ID}", self.artist),
            route("GET", f"/v1/audio-features/{_ID}", self.audio_features),
            route("GET", "/v1/recommendations", self.recommendations),
            route("GET", "/v1/search", self.search),
            route("GET", f"/v1/playlists/{_ID}/(tracks|items)", self.playlist_items),
        ]

    def _track(self, object_id: str) -> Track:
        return _find(self._catalog.tracks, object_id)

    def _artist(self, object_id: str) -> Artist:
        return _find(self._catalog.artists, object_id)

    def track(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        return json_response(200, self._render.track(req, self._track(match[1])))

    def artist(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        return json_response(200, self._render.artist(req, self._artist(match[1])))

    def artist_top_tracks(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        if self._mode == "development":  # removed for dev-mode apps, February 2026
            return api_error(403)
        artist = self._artist(match[1])
        tracks = sorted((t for t in self._catalog.tracks.values() if t.artist_id == artist.id),
                        key=lambda t: -t.popularity)[:10]
        return json_response(200, {"tracks": [self._render.track(req, t) for t in tracks]})

    def audio_features(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        if self._mode == "development":  # 403 for post-2024-11 and dev-mode apps
            return api_error(403)
        track = self._track(match[1])
        rng = random.Random(f"{self._seed}:features:{track.id}")
        features: JsonObject = {name: round(rng.random(), 3) for name in
                                ("acousticness", "danceability", "energy", "instrumentalness", "liveness",
                                 "speechiness", "valence")}
        features.update(duration_ms=track.duration_ms, id=track.id, key=rng.randrange(12), mode=rng.randrange(2),
                        tempo=round(rng.uniform(70, 180), 3), time_signature=4, type="audio_features",
                        uri=f"spotify:track:{track.id}", loudness=round(rng.uniform(-20, -3), 3))
        return json_response(200, features)

    def recommendations(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        # 404 for every app created after 2024-11-27; we do not model grandfathered ones.
        return api_error(404)

    def playlist_items(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        """Playlist contents. Dev mode (February 2026): the old ``/tracks`` path is 403, and ``/items``
        answers only for playlists the user owns; each entry's ``track`` became ``item`` on ``/items``."""
        playlist = self._catalog.playlists.get(match[1])
        if playlist is None:
            raise ApiFailure(404, "Resource not found")
        dev, key = self._mode == "development", "item" if match[2] == "items" else "track"
        if dev and (key == "track" or playlist.owner_id != grant.user_id):
            return api_error(403)
        limit, offset = page_params(req, default=100, maximum=100)
        owner = self._render.user(req, self._catalog.users[playlist.owner_id])
        count = len(playlist.track_ids)
        items = [{"added_at": iso(self._origin - (count - i) * 86_400), "added_by": owner, "is_local": False,
                  key: self._render.track(req, self._catalog.tracks[t])}
                 for i, t in enumerate(playlist.track_ids) if offset <= i < offset + limit]
        return json_response(200, paging(req, req.path, items, count, limit, offset))

    def search(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        query = req.query.get("q", "").strip()
        if not query:
            raise ApiFailure(400, "No search query")
        kinds = [k.strip() for k in req.query.get("type", "").split(",") if k.strip()]
        if not kinds:
            raise ApiFailure(400, "Missing parameter type")
        for kind in kinds:
            if kind not in _SEARCH_TYPES:
                raise ApiFailure(400, "Bad search type field " + kind)
        dev = self._mode == "development"  # dev mode: limit at most 10, default 5 (February 2026)
        limit, offset = page_params(req, default=5 if dev else 20, maximum=10 if dev else 50)
        if offset > 1000:
            raise ApiFailure(400, "Invalid offset")
        body = {f"{kind}s": self._search_kind(req, kind, query, limit, offset) for kind in kinds}
        return json_response(200, body)

    def _search_kind(self, req: Request, kind: str, query: str, limit: int, offset: int) -> JsonObject:
        found = [obj for obj in self._candidates(req, kind) if _matches(query, obj)]
        items = found[offset: offset + limit]
        return paging(req, "/v1/search", items, len(found), limit, offset, query=query, type=kind)

    def _candidates(self, req: Request, kind: str) -> list[JsonObject]:
        render, catalog = self._render, self._catalog
        match kind:
            case "track":
                return [render.track(req, t) for t in catalog.tracks.values()]
            case "artist":
                return [render.artist(req, a) for a in catalog.artists.values()]
            case "album":
                return [render.album(req, a) for a in catalog.albums.values()]
            case _:
                return [render.playlist(req, p) for p in catalog.playlists.values()]


def _matches(query: str, obj: JsonObject) -> bool:
    """Every word must match: ``isrc:``/``artist:``/``track:`` filters, or a substring of name or artists."""
    artists = " ".join(a["name"] for a in obj.get("artists", [])).lower()
    for word in query.lower().split():
        field, _, value = word.partition(":")
        if value and field == "isrc":
            if obj.get("external_ids", {}).get("isrc", "").lower() != value:
                return False
        elif value and field == "artist":
            if value not in artists and not (obj["type"] == "artist" and value in obj["name"].lower()):
                return False
        elif value and field == "track":
            if obj["type"] != "track" or value not in obj["name"].lower():
                return False
        elif word not in obj["name"].lower() and word not in artists:
            return False
    return True


def _find(table: Mapping[str, _T], object_id: str) -> _T:
    """Spotify's answers for a lookup by id: 400 for a malformed id, 404 for an unknown one."""
    if not _BASE62_ID.fullmatch(object_id):
        raise ApiFailure(400, "Invalid base62 id")
    found = table.get(object_id)
    if found is None:
        raise ApiFailure(404, "Resource not found")
    return found
