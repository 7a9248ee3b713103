"""The Spotify providers of the account actors: ``engine.providers.TrackFiguresProvider`` for a label's
account and ``engine.providers.RecentPlaysProvider`` for an opted-in listener's, each over a
``SpotifyClient`` whose token is a ``StoredSpotifyToken`` (refreshed before it runs out, rotated refresh
tokens kept, a refused refresh marking the account ``needs_reauth``).

``SpotifyProviders`` is what the composition root hands the actors' kinds: it builds one provider per
account and actor run. We never sleep or retry here; pacing in ``spotify:app`` is the actors'.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.spotify.classify import APP_DOMAIN
from adapters.spotify.client import SpotifyClient
from adapters.spotify.session import StoredSpotifyToken
from engine.providers import Played, TrackFigures

if TYPE_CHECKING:
    import httpx

    from config import SpotifySettings
    from engine.lease_plan import Lease
    from engine.store.database import Database
    from engine.store.integrations import Integration

__all__ = ["SpotifyProviders", "SpotifyRecentPlays", "SpotifyTrackFigures"]

_DOMAINS = (APP_DOMAIN,)


class SpotifyTrackFigures:
    """A label account's catalogue figures through ``client``. Raises what ``SpotifyClient`` raises."""

    domains = _DOMAINS

    def __init__(self, client: SpotifyClient) -> None:
        self._client = client

    async def track(self, track: str) -> TrackFigures:
        found = await self._client.track(track)
        return TrackFigures(popularity=found.popularity, artist=found.artists[0].id if found.artists else None)

    async def artist_followers(self, artist: str) -> int | None:
        found = await self._client.artist(artist)
        return None if found.followers is None else found.followers.total


class SpotifyRecentPlays:
    """A listener's recently played tracks through ``client``. Raises what ``SpotifyClient`` raises."""

    domains = _DOMAINS

    def __init__(self, client: SpotifyClient) -> None:
        self._client = client

    async def plays_after(self, after_ms: int | None, limit: int) -> list[Played]:
        items, _ = await self._client.recently_played(after_ms=after_ms, limit=limit)
        return [Played(played_at=item.played_at, track=item.track.id,
                       context=item.context.uri if item.context is not None else None) for item in items]


class SpotifyProviders:
    """Builds the providers of the Spotify account actors for the app ``spotify`` configures; their tokens
    are read from and refreshed into ``db``, opened with ``key``. ``now`` is the wall clock (Unix seconds)
    for token expiry. Construction does no I/O.

    Error handling: each factory raises ``RuntimeError`` when ``spotify.client_id`` is not configured.
    """

    def __init__(self, db: Database, key: bytes, spotify: SpotifySettings, *,
                 now: Callable[[], float] = time.time) -> None:
        self._db, self._key, self._spotify, self._now = db, key, spotify, now

    def track_figures(self, http: httpx.AsyncClient, integration: Integration, lease: Lease) -> SpotifyTrackFigures:
        """The provider of a label's connected Spotify ``integration``, over the actor's ``http``; its token
        is refreshed under the actor's ``lease``."""
        token = StoredSpotifyToken(self._db, self._key, integration, http, client_id=self._client_id(),
                                   token_url=self._token_url(), now=self._now, lease=lease)
        return SpotifyTrackFigures(self._client(http, token))

    def recent_plays(self, http: httpx.AsyncClient, org_id: uuid.UUID, listener_id: uuid.UUID,
                     lease: Lease) -> SpotifyRecentPlays:
        """The provider of the organization's opted-in listener ``listener_id``, over the actor's ``http``; its
        token is refreshed under the actor's ``lease``."""
        token = StoredSpotifyToken.for_listener(self._db, self._key, org_id, listener_id, http,
                                                client_id=self._client_id(), token_url=self._token_url(),
                                                now=self._now, lease=lease)
        return SpotifyRecentPlays(self._client(http, token))

    def _client(self, http: httpx.AsyncClient, token: StoredSpotifyToken) -> SpotifyClient:
        return SpotifyClient(http, token, base_url=f"{self._spotify.api_url}/v1")

    def _client_id(self) -> str:
        if self._spotify.client_id is None:
            raise RuntimeError("spotify.client_id is not configured (the sandbox sets the simulator's)")
        return self._spotify.client_id

    def _token_url(self) -> str:
        return f"{self._spotify.accounts_url}/api/token"
