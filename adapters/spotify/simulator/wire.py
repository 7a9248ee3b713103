"""The simulator's HTTP vocabulary: a parsed request, a response, and Spotify's two error shapes.

Web API errors are ``{"error":{"status","message"}}``; the accounts service uses the OAuth shape
``{"error","error_description"}``. This module knows nothing about routes or state.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec

__all__ = [
    "ApiFailure",
    "JsonObject",
    "Request",
    "Response",
    "api_error",
    "int_param",
    "json_response",
    "oauth_error",
    "redirect",
    "text_response",
]

_encoder = msgspec.json.Encoder()
JsonObject = dict[str, Any]


class Request(msgspec.Struct, frozen=True):
    method: str
    path: str
    query: dict[str, str]  # first value wins, as Spotify's own parsing does for the params we model
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host[:port] as the client addressed us; used in href/next links

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("latin-1"), keep_blank_values=True))

    def url(self, path: str, **params: object) -> str:
        """An absolute link back to us, with ``None`` params left out."""
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")


class Response(msgspec.Struct):
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = msgspec.field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def json_response(status: int, payload: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, _encoder.encode(payload),
                    [("content-type", "application/json; charset=utf-8"), *(headers or [])])


def api_error(status: int, message: str | None = None, **extra: str) -> Response:
    """The Web API's error body; a bare ``{"error":{"status":403}}`` when there is no message."""
    error: JsonObject = {"status": status}
    if message is not None:
        error["message"] = message
    error.update(extra)
    return json_response(status, {"error": error})


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def text_response(status: int, text: str, content_type: str = "text/plain") -> Response:
    return Response(status, text.encode(), [("content-type", content_type)])


def redirect(location: str) -> Response:
    return Response(302, b"", [("location", location)])


class ApiFailure(Exception):
    """Raised by a handler to answer with a Web API error instead of its result."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status, message)
        self.response = api_error(status, message)


def int_param(request: Request, name: str, default: int, lo: int, hi: int, message: str | None = None) -> int:
    """An integer query parameter in ``[lo, hi]``; anything else is Spotify's 400."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiFailure(400, message or f"Invalid {name}") from None
    if not lo <= value <= hi:
        raise ApiFailure(400, message or f"Invalid {name}")
    return value
