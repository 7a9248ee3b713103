"""JSON responses from msgspec Structs, encoded once with a module-level encoder, and downloads."""

from __future__ import annotations

from collections.abc import AsyncIterable

import msgspec
from quart import Response

__all__ = ["attachment", "json_response"]

# Decimals (money, exact ratios) go out as JSON numbers, as the API reference shows them.
_encoder = msgspec.json.Encoder(decimal_format="number")


def json_response(body: object, status: int = 200) -> Response:
    return Response(_encoder.encode(body), status=status, content_type="application/json")


def attachment(body: bytes | AsyncIterable[bytes], content_type: str, filename: str,
               headers: dict[str, str] | None = None) -> Response:
    """A download the browser saves as ``filename``: an organization's data, never cached on the way."""
    return Response(body, status=200, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store",
        **(headers or {})})
