"""The per-user part of ``/v1``: ``/me``, saved tracks, playlists, top items and recently played.

What a user "has played" comes from ``world`` and the simulated clock: a play shows up once it has
finished, and only the 50 most recent plays are reachable, as on Spotify (PROVIDERS.md B2).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adapters.spotify.simulator.api import Route, page_params, route
from adapters.spotify.simulator.oauth import Grant
from adapters.spotify.simulator.render import Renderer, iso, paging
from adapters.spotify.simulator.wire import ApiFailure, JsonObject, Request, Response, json_response
from adapters.spotify.simulator.world import TIME_RANGES, Play, World

__all__ = ["RECENT_MAX", "LibraryApi"]

RECENT_MAX = 50
_MS_MAX = 2**63 - 1


class LibraryApi:
    """Endpoints answered for the user behind the access token."""

    def __init__(self, world: World, render: Renderer, now: Callable[[], float]) -> None:
        self._world, self._render, self._now = world, render, now

    def routes(self) -> list[Route]:
        return [
            route("GET", "/v1/me", self.me),
            route("GET", "/v1/me/tracks", self.saved_tracks, "user-library-read"),
            route("GET", "/v1/me/playlists", self.playlists),
            route("GET", "/v1/me/top/(artists|tracks)", self.top, "user-top-read"),
            route("GET", "/v1/me/player/recently-played", self.recently_played, "user-read-recently-played"),
        ]

    def me(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        user = self._world.catalog.users[grant.user_id]
        return json_response(200, self._render.user(req, user, private=True))

    def saved_tracks(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        limit, offset = page_params(req)
        saved = self._world.saved_tracks(grant.user_id)
        items = [{"added_at": iso(at), "track": self._render.track(req, t)} for t, at in saved[offset:offset + limit]]
        return json_response(200, paging(req, "/v1/me/tracks", items, len(saved), limit, offset))

    def playlists(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        limit, offset = page_params(req)
        # Every simulated user follows the label's playlists; nobody else owns any.
        playlists = list(self._world.catalog.playlists.values())
        items = [self._render.playlist(req, p) for p in playlists[offset:offset + limit]]
        return json_response(200, paging(req, "/v1/me/playlists", items, len(playlists), limit, offset))

    def top(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        time_range = req.query.get("time_range", "medium_term")
        if time_range not in TIME_RANGES:
            raise ApiFailure(400, "Invalid time range")
        limit, offset = page_params(req)
        items: list[JsonObject]
        if match[1] == "tracks":
            ranked = self._world.top_tracks(grant.user_id, time_range)
            items = [self._render.track(req, t) for t in ranked[offset:offset + limit]]
        else:
            ranked_ids = self._world.top_artist_ids(grant.user_id, time_range)
            artists = self._world.catalog.artists
            items = [self._render.artist(req, artists[a]) for a in ranked_ids[offset:offset + limit]]
        total = len(ranked) if match[1] == "tracks" else len(ranked_ids)
        body = paging(req, f"/v1/me/top/{match[1]}", items, total, limit, offset, time_range=time_range)
        return json_response(200, body)

    def recently_played(self, req: Request, grant: Grant, match: re.Match[str]) -> Response:
        """Cursor paging over the 50 most recent finished plays, newest first.

        Without a cursor we return the newest ``limit``. With ``before`` (ms), the newest ``limit``
        strictly older than it. With ``after`` (ms), the ``limit`` plays that directly follow it, so a
        poller that keeps passing ``cursors.after`` walks forward without gaps. ``next`` always pages
        further back in time, as Spotify's does.
        """
        if "after" in req.query and "before" in req.query:
            raise ApiFailure(400, "Only one of after or before may be given")
        limit = page_params(req)[0]
        recent = self._world.recent_plays(grant.user_id, self._now(), RECENT_MAX)
        if "before" in req.query:
            before = _ms_param(req, "before")
            page = [p for p in recent if _ms(p) < before][:limit]
        elif "after" in req.query:
            after = _ms_param(req, "after")
            page = [p for p in recent if _ms(p) > after][-limit:]
        else:
            page = recent[:limit]
        older = bool(page) and any(_ms(p) < _ms(page[-1]) for p in recent)
        cursors = {"after": str(_ms(page[0])), "before": str(_ms(page[-1]))} if page else None
        params = {k: req.query[k] for k in ("after", "before") if k in req.query}
        body = {"items": [self._play(req, p) for p in page],
                "next": req.url(req.path, before=_ms(page[-1]), limit=limit) if older else None,
                "cursors": cursors, "limit": limit, "href": req.url(req.path, limit=limit, **params)}
        return json_response(200, body)

    def _play(self, req: Request, play: Play) -> JsonObject:
        context = self._render.context(req, play.context.type, play.context.id) if play.context else None
        track = self._render.track(req, self._world.catalog.tracks[play.track_id])
        return {"track": track, "played_at": iso(play.played_at), "context": context}


def _ms(play: Play) -> int:
    return round(play.played_at * 1000)


def _ms_param(req: Request, name: str) -> int:
    raw = req.query[name]
    if not raw.isdigit() or int(raw) > _MS_MAX:
        raise ApiFailure(400, f"Invalid {name} cursor")
    return int(raw)
