"""Static files the app serves from its own folder (Swagger UI's copy, the console's vendored scripts):
read into memory once when the app is built, answered with a caching header and never from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response

from http_api.errors import ApiError

__all__ = ["STATIC", "assets_blueprint"]

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html; charset=utf-8"}


def assets_blueprint(name: str, folder: Path, url_prefix: str, cache_control: str) -> Blueprint:
    """``<url_prefix>/<file>`` for each servable file of ``folder`` (held in memory: a few small files)."""
    assets = {path.name: (path.read_bytes(), _TYPES[path.suffix])
              for path in folder.iterdir() if path.suffix in _TYPES}
    bp = Blueprint(name, __name__)

    @bp.get(f"{url_prefix}/<file>")
    async def asset(file: str) -> Response:
        if file not in assets:
            raise ApiError(404, "NOT_FOUND", "no such asset")
        content, content_type = assets[file]
        return Response(content, content_type=content_type, headers={"Cache-Control": cache_control})

    return bp
