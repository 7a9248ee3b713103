"""The HTTP API: a Quart-Trio app serving the SongTrackPro API reference."""

from http_api.app import create_app

__all__ = ["create_app"]
