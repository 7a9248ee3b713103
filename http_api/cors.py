"""CORS for the API's routes (quart-cors): pages on the origins of ``[server] cors_origins`` may call them
and read the headers a client needs. It owns that policy and nothing else; the live WebSockets check the
same origins themselves (``http_api.live.ws.origin_allowed``), and the console's pages get no CORS at all.

Credentials are never allowed: the API is Bearer-only, and the console's session cookie must never be
usable from another origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from quart import Blueprint
from quart_cors import cors

from http_api.request_ids import HEADER

__all__ = ["EXPOSED", "allow_cross_origin"]

# What a page may read from an answer: its id to quote, the quota (http_api.quotas), when to retry, and
# where a created resource is.
EXPOSED = (HEADER, "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "Location")
# What a page may send. Listed, not "*": a wildcard does not cover Authorization (the Fetch standard).
_ALLOWED_HEADERS = ("Authorization", "Content-Type", HEADER)
_PREFLIGHT_CACHE_SECONDS = 600


def allow_cross_origin(blueprint: Blueprint, origins: Sequence[str]) -> None:
    """Answer preflights of ``blueprint``'s routes and add CORS headers to its answers, for ``origins``
    (``*`` for any); with no origins, nothing is added and browsers keep other origins out."""
    if not origins:
        return
    cors(blueprint, allow_origin=list(origins), allow_credentials=False, allow_headers=_ALLOWED_HEADERS,
         expose_headers=EXPOSED, max_age=_PREFLIGHT_CACHE_SECONDS)
