"""The Spotify account actors' providers: Spotify's tracks, artists and plays in neutral terms.

Rules: the Web API is faked at the transport (``httpx.MockTransport`` answering with the JSON Spotify
sends), so each test states the exact objects it maps; the actors against the simulator, tokens and
refreshes included, are tests/actors/test_spotify_label.py's and test_spotify_listener.py's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from adapters.spotify import spotify_window
from adapters.spotify.client import SpotifyClient
from adapters.spotify.provider import SpotifyProviders, SpotifyRecentPlays, SpotifyTrackFigures
from config import SpotifySettings
from engine.lease_plan import Lease
from engine.providers import Played, TrackFigures

BASE = "http://spotify.test/v1"
OBJECTS: dict[str, object] = {
    "/v1/tracks/with": {"id": "with", "popularity": 42, "artists": [{"id": "first"}, {"id": "second"}]},
    "/v1/tracks/bare": {"id": "bare", "artists": []},
    "/v1/artists/first": {"id": "first", "followers": {"total": 1234}},
    "/v1/artists/quiet": {"id": "quiet"},
    "/v1/me/player/recently-played": {"items": [
        {"played_at": "2026-09-01T12:00:00Z", "track": {"id": "with"},
         "context": {"uri": "spotify:playlist:p1"}},
        {"played_at": "2026-09-01T11:00:00Z", "track": {"id": None}},  # a local file
    ], "cursors": {"after": "1788264000000"}},
}


async def _token() -> str:
    return "TOKEN"


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=OBJECTS[request.url.path])


async def test_a_track_gives_its_popularity_and_first_artist_and_an_artist_its_followers() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as http:
        provider = SpotifyTrackFigures(SpotifyClient(http, _token, base_url=BASE))
        assert await provider.track("with") == TrackFigures(popularity=42, artist="first")
        assert await provider.track("bare") == TrackFigures()
        assert await provider.artist_followers("first") == 1234
        assert await provider.artist_followers("quiet") is None
    assert provider.domains == ("spotify:app",)


async def test_plays_keep_local_files_and_their_context() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        plays = await SpotifyRecentPlays(SpotifyClient(http, _token, base_url=BASE)).plays_after(1_000, 50)
    assert plays == [
        Played(played_at=datetime(2026, 9, 1, 12, tzinfo=UTC), track="with", context="spotify:playlist:p1"),
        Played(played_at=datetime(2026, 9, 1, 11, tzinfo=UTC)),
    ]
    assert dict(seen[0].url.params) == {"after": "1000", "limit": "50"}


async def test_without_a_client_id_no_provider_is_built() -> None:
    providers = SpotifyProviders(None, b"k" * 32, SpotifySettings())  # type: ignore[arg-type]
    async with httpx.AsyncClient() as http:
        with pytest.raises(RuntimeError, match="client_id is not configured"):
            providers.recent_plays(http, uuid.uuid4(), uuid.uuid4(), Lease("spotify-listener:x", 1))


def test_every_spotify_domain_is_paced_over_the_apps_rolling_30_seconds() -> None:
    assert spotify_window("spotify:app") == 30.0
