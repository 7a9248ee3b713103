"""The simulated catalogue: artists, albums, tracks, playlists and users, built from one seed.

It owns identity and metadata only; plays and stream counts live in ``world``. The catalogue is built
once from ``random.Random(seed)`` in a fixed order, so the same seed always yields the same ids.
"""

from __future__ import annotations

import random
import string
from datetime import date, timedelta

import msgspec

from adapters.spotify.simulator.config import SimulatorConfig

__all__ = ["LABEL_NAME", "Album", "Artist", "Catalog", "Playlist", "Track", "User", "spotify_id"]

_BASE62 = string.digits + string.ascii_letters
_ADJECTIVES = ("Neon", "Silent", "Golden", "Broken", "Electric", "Velvet", "Midnight", "Paper", "Crystal", "Wild",
               "Hollow", "Lunar", "Amber", "Static", "Faded", "Endless")
_NOUNS = ("Hearts", "River", "Echoes", "Skyline", "Lights", "Ocean", "Machines", "Summer", "Ghosts", "Mirrors",
          "Horizon", "Signals", "Fires", "Roads", "Dreams", "Satellites")
_GENRES = ("indie pop", "alt rock", "dance pop", "lo-fi", "synthwave", "hip hop", "folk", "house")
_COUNTRIES = ("US", "GB", "DE", "FR", "BR", "SE", "MX", "CA")
LABEL_NAME = "SongTrack Records"


class Artist(msgspec.Struct, frozen=True):
    id: str
    name: str
    genres: tuple[str, ...]
    followers: int
    popularity: int


class Album(msgspec.Struct, frozen=True):
    id: str
    name: str
    artist_id: str
    release_date: str
    upc: str
    track_ids: tuple[str, ...]


class Track(msgspec.Struct, frozen=True):
    id: str
    name: str
    artist_id: str
    album_id: str
    track_number: int
    duration_ms: int
    isrc: str
    popularity: int
    explicit: bool
    base_daily: int  # background streams per day, from listeners we do not simulate one by one


class Playlist(msgspec.Struct, frozen=True):
    id: str
    name: str
    description: str
    owner_id: str
    track_ids: tuple[str, ...]
    snapshot_id: str
    public: bool


class User(msgspec.Struct, frozen=True):
    id: str
    display_name: str
    account_id: str
    country: str
    email: str
    product: str
    followers: int


def spotify_id(rng: random.Random) -> str:
    """A 22-character base62 id, the shape of every Spotify object id."""
    return "".join(rng.choice(_BASE62) for _ in range(22))


def _isrc(rng: random.Random, year: int) -> str:
    registrant = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(3))
    return f"{rng.choice(_COUNTRIES)}{registrant}{year % 100:02d}{rng.randrange(100000):05d}"


def _title(rng: random.Random) -> str:
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"


class Catalog:
    """Every object of the simulated Spotify, addressable by id. Read-only after construction."""

    def __init__(self, config: SimulatorConfig) -> None:
        rng = random.Random(config.seed)
        self.artists: dict[str, Artist] = {}
        self.albums: dict[str, Album] = {}
        self.tracks: dict[str, Track] = {}
        for _ in range(config.artists):
            self._add_artist(rng, config.tracks_per_artist)
        self.label_user = self._user(rng, "songtrack-label", "SongTrack Records", "label@songtrack.example")
        self.listeners: list[User] = [
            self._user(rng, f"fan{i:04d}", f"Fan {i}", f"fan{i}@example.com") for i in range(config.listeners)
        ]
        self.users: dict[str, User] = {u.id: u for u in (self.label_user, *self.listeners)}
        track_ids = list(self.tracks)
        self.playlists: dict[str, Playlist] = {}
        for i in range(config.playlists):
            chosen = tuple(rng.sample(track_ids, k=min(len(track_ids), rng.randint(5, 25))))
            playlist = Playlist(spotify_id(rng), f"{_title(rng)} Mix", f"Playlist {i} by {LABEL_NAME}",
                                self.label_user.id, chosen, spotify_id(rng) + spotify_id(rng), public=True)
            self.playlists[playlist.id] = playlist
        label_tracks = [t.id for t in self.tracks.values() if t.artist_id == self.label_artist.id]
        self.campaign_track_ids: tuple[str, ...] = tuple(label_tracks[: config.campaign_tracks])

    @property
    def label_artist(self) -> Artist:
        """The label's own artist: the first one built; campaign tracks are its first tracks."""
        return next(iter(self.artists.values()))

    def _add_artist(self, rng: random.Random, track_count: int) -> None:
        popularity = rng.randint(20, 90)
        artist = Artist(spotify_id(rng), f"The {_title(rng)}", tuple(rng.sample(_GENRES, 2)),
                        followers=popularity * rng.randint(500, 5000), popularity=popularity)
        self.artists[artist.id] = artist
        released = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        album_id = spotify_id(rng)
        track_ids: list[str] = []
        for number in range(1, track_count + 1):
            track_popularity = max(0, min(100, popularity + rng.randint(-15, 10)))
            track = Track(spotify_id(rng), _title(rng), artist.id, album_id, number,
                          duration_ms=rng.randint(120_000, 300_000), isrc=_isrc(rng, released.year),
                          popularity=track_popularity, explicit=rng.random() < 0.2,
                          base_daily=track_popularity * rng.randint(20, 60))
            self.tracks[track.id] = track
            track_ids.append(track.id)
        upc = "".join(str(rng.randrange(10)) for _ in range(12))
        self.albums[album_id] = Album(album_id, _title(rng), artist.id, released.isoformat(), upc, tuple(track_ids))

    @staticmethod
    def _user(rng: random.Random, user_id: str, name: str, email: str) -> User:
        return User(user_id, name, account_id=spotify_id(rng), country=rng.choice(_COUNTRIES), email=email,
                    product=rng.choice(("premium", "free")), followers=rng.randrange(200))
