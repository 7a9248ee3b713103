"""The Spotify Web API adapter: response classification, OAuth (PKCE), schemas and the typed client. The
account actors' providers are ``adapters.spotify.provider`` (it reaches the store, so it is not loaded here)."""

from adapters.spotify.classify import APP_DOMAIN, classify, spotify_window, transport_errors
from adapters.spotify.client import PagedEndpoint, SpotifyClient, TokenProvider
from adapters.spotify.oauth import AuthorizationDenied, TokenSet

__all__ = [
    "APP_DOMAIN",
    "AuthorizationDenied",
    "PagedEndpoint",
    "SpotifyClient",
    "TokenProvider",
    "TokenSet",
    "classify",
    "spotify_window",
    "transport_errors",
]
