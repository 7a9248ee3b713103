"""The Spotify Web API simulator: a deterministic world, the accounts service and ``/v1``, over ASGI.

Product code, not a test fake: tests, benchmarks and the sandbox all use it. Build a
``SpotifySimulator(SimulatorConfig(...))`` and mount it with ``httpx.ASGITransport``, or serve it on a
socket with ``serve_spotify_simulator``.
"""

from adapters.spotify.simulator.app import RequestRecord, SpotifySimulator
from adapters.spotify.simulator.config import (
    ClientApp,
    FaultConfig,
    ManualTime,
    RateLimitConfig,
    SimClock,
    SimulatorConfig,
)
from adapters.spotify.simulator.oauth import s256
from adapters.spotify.simulator.serve import serve_spotify_simulator
from adapters.spotify.simulator.world import Play, World

__all__ = [
    "ClientApp",
    "FaultConfig",
    "ManualTime",
    "Play",
    "RateLimitConfig",
    "RequestRecord",
    "SimClock",
    "SimulatorConfig",
    "SpotifySimulator",
    "World",
    "s256",
    "serve_spotify_simulator",
]
