"""Spotify's JSON objects (track, album, artist, playlist, user, paging) for the simulated catalogue.

Each renderer builds the extended-quota shape, then ``development`` mode strips the fields Spotify
removed for dev-mode apps in February 2026 (PROVIDERS.md B0) and renames playlist ``tracks`` to
``items``. ``external_ids`` stays on tracks: March 2026 put it back. Links point at the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.spotify.simulator.catalog import Album, Artist, Catalog, Playlist, Track, User
from adapters.spotify.simulator.config import Mode
from adapters.spotify.simulator.wire import JsonObject, Request

__all__ = ["MARKETS", "Renderer", "iso", "paging"]

MARKETS = ["BR", "CA", "DE", "FR", "GB", "MX", "SE", "US"]
_DEV_TRACK = ("available_markets", "linked_from", "popularity")
_DEV_ALBUM = ("album_group", "available_markets", "external_ids", "label", "popularity")
_DEV_ARTIST = ("followers", "popularity")
_DEV_USER = ("country", "email", "explicit_content", "followers", "product")


def iso(t: float) -> str:
    """Spotify's timestamp format: UTC, millisecond precision, ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{round(t * 1000) % 1000:03d}Z"


def _strip(obj: JsonObject, fields: tuple[str, ...], mode: Mode) -> JsonObject:
    if mode == "development":
        for field in fields:
            obj.pop(field, None)
    return obj


def _ref(req: Request, kind: str, object_id: str) -> JsonObject:
    return {"external_urls": {"spotify": f"https://open.spotify.com/{kind}/{object_id}"},
            "href": req.url(f"/v1/{kind}s/{object_id}"), "id": object_id, "type": kind,
            "uri": f"spotify:{kind}:{object_id}"}


class Renderer:
    """Renders catalogue objects for one mode."""

    def __init__(self, catalog: Catalog, mode: Mode) -> None:
        self.catalog, self.mode = catalog, mode
        # Track objects are the bulk of every page and never change: we build each once per origin.
        # Callers must treat rendered objects as read-only.
        self._tracks: dict[tuple[str, str], JsonObject] = {}

    def artist(self, req: Request, artist: Artist, *, full: bool = True) -> JsonObject:
        obj = {**_ref(req, "artist", artist.id), "name": artist.name}
        if full:
            obj.update(followers={"href": None, "total": artist.followers}, genres=list(artist.genres),
                       images=[], popularity=artist.popularity)
        return _strip(obj, _DEV_ARTIST, self.mode)

    def album(self, req: Request, album: Album) -> JsonObject:
        artist = self.catalog.artists[album.artist_id]
        obj = {**_ref(req, "album", album.id), "album_type": "album", "total_tracks": len(album.track_ids),
               "available_markets": MARKETS, "images": [], "name": album.name, "release_date": album.release_date,
               "release_date_precision": "day", "artists": [self.artist(req, artist, full=False)],
               "external_ids": {"upc": album.upc}, "label": "SongTrack Records", "popularity": artist.popularity}
        return _strip(obj, _DEV_ALBUM, self.mode)

    def track(self, req: Request, track: Track) -> JsonObject:
        key = (req.base_url, track.id)
        if key not in self._tracks:
            self._tracks[key] = self._track(req, track)
        return self._tracks[key]

    def _track(self, req: Request, track: Track) -> JsonObject:
        obj = {**_ref(req, "track", track.id), "album": self.album(req, self.catalog.albums[track.album_id]),
               "artists": [self.artist(req, self.catalog.artists[track.artist_id], full=False)],
               "available_markets": MARKETS, "disc_number": 1, "duration_ms": track.duration_ms,
               "explicit": track.explicit, "external_ids": {"isrc": track.isrc}, "is_local": False,
               "is_playable": True, "name": track.name, "popularity": track.popularity, "preview_url": None,
               "track_number": track.track_number}
        return _strip(obj, _DEV_TRACK, self.mode)

    def user(self, req: Request, user: User, *, private: bool = False) -> JsonObject:
        obj = {**_ref(req, "user", user.id), "display_name": user.display_name, "images": []}
        if private:
            obj.update(account_id=user.account_id, country=user.country, email=user.email,
                       explicit_content={"filter_enabled": False, "filter_locked": False},
                       followers={"href": None, "total": user.followers}, product=user.product)
        return _strip(obj, _DEV_USER, self.mode)

    def playlist(self, req: Request, playlist: Playlist) -> JsonObject:
        key = "items" if self.mode == "development" else "tracks"
        owner = self.user(req, self.catalog.users[playlist.owner_id])
        return {**_ref(req, "playlist", playlist.id), "collaborative": False, "description": playlist.description,
                "images": [], "name": playlist.name, "owner": owner, "primary_color": None,
                "public": playlist.public, "snapshot_id": playlist.snapshot_id,
                key: {"href": req.url(f"/v1/playlists/{playlist.id}/{key}"), "total": len(playlist.track_ids)}}

    def context(self, req: Request, kind: str, object_id: str) -> JsonObject:
        ref = _ref(req, kind, object_id)
        return {"type": kind, "href": ref["href"], "external_urls": ref["external_urls"], "uri": ref["uri"]}


def paging(req: Request, path: str, items: list[JsonObject], total: int, limit: int, offset: int,
           **params: str) -> JsonObject:
    """The standard offset paging object; ``params`` are echoed into ``href``/``next``/``previous``."""
    def link(at: int) -> str:
        return req.url(path, **params, offset=at, limit=limit)

    return {"href": link(offset), "items": items, "limit": limit,
            "next": link(offset + limit) if offset + limit < total else None, "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None, "total": total}
