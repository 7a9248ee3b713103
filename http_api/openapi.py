"""The OpenAPI 3.1 document, generated from the same Endpoint declarations and
msgspec Structs that validate requests, and Swagger UI to try it, served from
local copies of its assets so it works offline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from quart import Blueprint, Response

from http_api.assets import STATIC, assets_blueprint
from http_api.catalog.schemas import NO_NUL
from http_api.errors import ErrorEnvelope
from http_api.providers.spotify_schemas import SPOTIFY_ID
from http_api.routing import Access, Endpoint

__all__ = ["build_openapi", "docs_blueprint"]

_REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")

_ERROR_TEXT = {
    400: "Invalid input: the details name each bad field",
    401: "Missing, invalid or expired access token, or the session has ended",
    403: "The caller's role does not allow this",
    404: "No such resource in the caller's organization",
    409: "Conflicts with the resource's current state",
    413: "The body is larger than the API accepts",
    422: "Well-formed input that is not valid (a rule that is not one): the details name each bad member",
    429: "Rate limit exceeded; see Retry-After",
    502: "The provider returned an error",
    503: "The service is starting or a dependency is unavailable",
}


def build_openapi(endpoints: Sequence[Endpoint], *, version: str) -> dict[str, object]:
    types = _types(endpoints)
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    components = _text_without_nul(_decimals_as_numbers(components))
    ref_of = dict(zip(types, refs, strict=True))
    paths: dict[str, dict[str, object]] = {}
    for ep in endpoints:
        path, params = _path(ep.rule)
        paths.setdefault(path, {})[ep.method.lower()] = _operation(ep, params, ref_of, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SongTrackPro API", "version": version,
            "description": "Ties Meta ad spend to Spotify results. Errors use one envelope: "
                           "`{\"error\": {\"code\", \"message\", \"details\": [{\"field\", \"message\"}]}}`. "
                           "Live stream events (OpenAPI cannot describe WebSockets): `/v1/streaming/ws` and "
                           "`/v1/streaming/ws/{trackId}`, protocol in docs/live-streams.md.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _files_as_binary(schema: Any) -> Any:
    """A form's schema, inline, with its ``bytes`` fields (base64 in JSON) as uploaded files."""
    properties = {name: {k: v for k, v in prop.items() if k != "contentEncoding"} | {"format": "binary"}
                  if prop.get("contentEncoding") == "base64" else prop
                  for name, prop in schema.get("properties", {}).items()}
    return {**schema, "properties": properties}


def _decimals_as_numbers(schema: Any) -> Any:
    """Decimals are read from a JSON number or a decimal string, and written as numbers
    (``http_api.responses``); msgspec's schema says only "string"."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("format") == "decimal":
            return {**schema, "type": ["number", "string"]}
        return {key: _decimals_as_numbers(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_decimals_as_numbers(item) for item in schema]
    return schema


def _text_without_nul(schema: Any) -> Any:
    """Every route refuses NUL in text (``http_api.validation``: PostgreSQL cannot store it); a string the
    Structs leave free of a pattern, format or enum gets NO_NUL, so the document says so too."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not schema.keys() & {"pattern", "format", "enum", "const"}:
            return {**schema, "pattern": NO_NUL}
        return {key: _text_without_nul(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_text_without_nul(item) for item in schema]
    return schema


def _types(endpoints: Sequence[Endpoint]) -> list[type]:
    found: dict[type, None] = {ErrorEnvelope: None}
    for ep in endpoints:
        for t in (ep.body, ep.query, ep.form, ep.response, *(r[1] for r in ep.other_responses)):
            if t is not None:
                found[t] = None
    return list(found)


def _path(rule: str) -> tuple[str, list[dict[str, object]]]:
    params: list[dict[str, object]] = []

    def swap(match: re.Match[str]) -> str:
        schema: dict[str, object] = {"type": "string"}
        if match["conv"] == "uuid":
            schema["format"] = "uuid"
        elif match["conv"] == "int":
            schema = {"type": "integer"}
        elif match["conv"] == "spotify_id":  # http_api.providers.spotify.SpotifyIdText
            schema["pattern"] = f"^{SPOTIFY_ID.pattern}$"
        params.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
        return "{" + match["name"] + "}"

    return _PARAM.sub(swap, rule), params


def _operation(
    ep: Endpoint, params: list[dict[str, object]], ref_of: dict[type, dict[str, object]],
    components: dict[str, object],
) -> dict[str, object]:
    op: dict[str, object] = {"summary": ep.summary, "tags": [ep.tag], "operationId": _operation_id(ep)}
    if ep.description:
        op["description"] = ep.description
    if ep.query is not None:
        params = params + _query_params(ep.query, components)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref_of[ep.body]}}}
    if ep.form is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {
            "schema": _files_as_binary(components[ep.form.__name__])}}}
    op["responses"] = _responses(ep, bool(params), ref_of)
    op["security"] = [{"bearerAuth": []}] if ep.access > Access.PUBLIC else []
    return op


def _operation_id(ep: Endpoint) -> str:
    """``get_campaigns_by_campaign_id``: the method and the path's words, one underscore between each (client
    generators name their functions after it)."""
    words = re.sub(r"<(?:\w+:)?(\w+)>", r"by_\1", ep.rule.removeprefix("/v1"))
    return "_".join([ep.method.lower(), *re.findall(r"[a-zA-Z0-9]+", words)]).lower()


def _query_params(query: type, components: dict[str, object]) -> list[dict[str, object]]:
    schema = components[query.__name__]
    assert isinstance(schema, dict)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _responses(ep: Endpoint, has_params: bool, ref_of: dict[type, dict[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {str(ep.status): _content("Success", ep.response, ref_of)}
    for status, body, text in ep.other_responses:
        out[str(status)] = _content(text, body, ref_of)
    codes = set(ep.errors)
    if ep.body is not None or ep.form is not None or ep.query is not None or has_params:
        codes.add(400)
    if ep.body is not None or ep.form is not None:
        codes.add(413)
    if ep.access > Access.PUBLIC:
        codes |= {401, 429, 503}
    if ep.access > Access.VIEWER:
        codes.add(403)
    if "<" in ep.rule:
        codes.add(404)
    for code in sorted(codes):
        out.setdefault(str(code), _content(_ERROR_TEXT.get(code, "Error"), ErrorEnvelope, ref_of))
    return out


def _content(text: str, body: type | None, ref_of: dict[type, dict[str, object]]) -> dict[str, object]:
    if body is None:
        return {"description": text}
    return {"description": text, "content": {"application/json": {"schema": ref_of[body]}}}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SongTrackPro API</title>
<link rel="icon" href="/api-docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/api-docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api-docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
</body></html>
"""


def docs_blueprint(document: bytes) -> Blueprint:
    """``/openapi.json`` (the document, encoded once) and Swagger UI at ``/api-docs``."""
    bp = Blueprint("docs", __name__)

    @bp.get("/openapi.json")
    async def openapi_json() -> Response:
        return Response(document, content_type="application/json")

    @bp.get("/api-docs")
    async def swagger_page() -> Response:
        return Response(_PAGE, content_type="text/html; charset=utf-8")

    bp.register_blueprint(assets_blueprint("swagger_ui", STATIC / "swagger-ui", "/api-docs/static",
                                           "public, max-age=86400"))
    return bp
