"""The Spotify Web API adapter: response classification, OAuth (PKCE), schemas and the typed client."""

from adapters.spotify.classify import APP_DOMAIN, ReauthRequiredError, classify, transport_errors
from adapters.spotify.client import PagedEndpoint, SpotifyClient, TokenProvider
from adapters.spotify.oauth import AuthorizationDenied, TokenSet

__all__ = [
    "APP_DOMAIN",
    "AuthorizationDenied",
    "PagedEndpoint",
    "ReauthRequiredError",
    "SpotifyClient",
    "TokenProvider",
    "TokenSet",
    "classify",
    "transport_errors",
]
