"""JSON responses from msgspec Structs, encoded once with a module-level encoder."""

from __future__ import annotations

import msgspec
from quart import Response

__all__ = ["json_response"]

# Decimals (money, exact ratios) go out as JSON numbers, as the API reference shows them.
_encoder = msgspec.json.Encoder(decimal_format="number")


def json_response(body: object, status: int = 200) -> Response:
    return Response(_encoder.encode(body), status=status, content_type="application/json")
