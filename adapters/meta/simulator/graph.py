"""Graph API wire conventions (PROVIDERS.md A2): requests, the error envelope, field selection, paging.

It owns how a request is read (``access_token`` from the query, a form field or a Bearer header;
parameters from the query merged with a form or JSON body) and how answers are written. It knows no
endpoint.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

__all__ = ["GraphError", "Request", "Response", "invalid_param", "json_response", "page", "select"]

_VERSION = re.compile(r"^/(v\d+\.0)(/.*)?$")
Json = dict[str, object]
T = TypeVar("T")


@dataclass(slots=True)
class Request:
    method: str
    path: str  # without the version prefix, e.g. "/act_123/campaigns"
    version: str | None
    params: dict[str, str]
    headers: dict[str, str]
    origin: str  # "http://host:port", for paging URLs
    empty_page: bool = False  # a fault: answer an empty page that still has ``next`` (Meta does this)

    @classmethod
    def from_asgi(cls, scope: Mapping[str, object], body: bytes) -> Request:
        raw_headers = scope.get("headers") or []
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}  # type: ignore[attr-defined]
        path = str(scope.get("path") or "/")
        match = _VERSION.match(path)
        version, path = (match.group(1), match.group(2) or "/") if match else (None, path)
        query = scope.get("query_string") or b""
        params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))  # type: ignore[attr-defined]
        params.update(_body_params(headers.get("content-type", ""), body))
        scheme = str(scope.get("scheme") or "http")
        host = headers.get("host", "graph.facebook.com")
        return cls(
            str(scope.get("method") or "GET"), path.rstrip("/") or "/", version, params, headers, f"{scheme}://{host}"
        )

    def item(self, method: str, relative_url: str, body: str) -> Request:
        """One batch item as a request of its own; it inherits the batch's token and Authorization header."""
        path, _, query = relative_url.partition("?")
        match = _VERSION.match("/" + path.lstrip("/"))
        version, path = (match.group(1), match.group(2) or "/") if match else (self.version, "/" + path.lstrip("/"))
        params = {k: v for k, v in self.params.items() if k == "access_token"}
        params.update(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        return Request(method.upper(), path.rstrip("/") or "/", version, params, dict(self.headers), self.origin)

    @property
    def token(self) -> str | None:
        if "access_token" in self.params:
            return self.params["access_token"]
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def fields(self, default: Sequence[str]) -> list[str]:
        raw = self.params.get("fields", "")
        return [f.strip() for f in raw.split(",") if f.strip()] or list(default)

    def json_param(self, name: str) -> object:
        """A parameter Graph takes as JSON (``time_range``, ``special_ad_categories``); error 100 if invalid."""
        try:
            return json.loads(self.params[name])
        except ValueError:
            raise invalid_param(f"Invalid parameter: {name} must be valid JSON") from None

    def url(self, **changes: str) -> str:
        # Meta echoes a query/form access_token in paging URLs, so a client can follow ``next`` as is.
        params = {k: v for k, v in self.params.items() if k not in ("after", "before")}
        params.update(changes)
        prefix = f"/{self.version}" if self.version else ""
        return f"{self.origin}{prefix}{self.path}?{urlencode(params)}"


def _body_params(content_type: str, body: bytes) -> dict[str, str]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body)
        except ValueError:
            raise invalid_param("Invalid JSON body") from None
        if not isinstance(decoded, dict):
            raise invalid_param("Invalid JSON body")
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json; charset=UTF-8"


def json_response(value: object, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode(), list(headers))


class GraphError(Exception):
    """A Graph error answer: HTTP ``status`` with ``{"error": {...}}`` and optional extra headers."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        type: str = "OAuthException",
        status: int = 400,
        is_transient: bool = False,
        headers: Sequence[tuple[str, str]] = (),
        user_title: str | None = None,
        user_msg: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.subcode, self.type = message, code, subcode, type
        self.status, self.is_transient, self.headers = status, is_transient, list(headers)
        self.user_title, self.user_msg = user_title, user_msg  # what Ads Manager would show a person

    def response(self, fbtrace_id: str) -> Response:
        error: Json = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None:
            error.update(error_user_title=self.user_title, error_user_msg=self.user_msg or "")
        error.update(is_transient=self.is_transient, fbtrace_id=fbtrace_id)
        return json_response({"error": error}, self.status, self.headers)


def invalid_param(message: str, subcode: int | None = None) -> GraphError:
    return GraphError(f"(#100) {message}", code=100, subcode=subcode)


def select(obj: Mapping[str, object], fields: Sequence[str]) -> Json:
    """The requested fields that exist on ``obj`` (Graph silently has no key for unset fields; ``id`` always)."""
    chosen: Json = {name: obj[name] for name in fields if name in obj}
    if "id" in obj:
        chosen.setdefault("id", obj["id"])
    return chosen


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode().rstrip("=")


def _position(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "idx":
            raise ValueError(kind)
        return int(number)
    except ValueError:
        raise invalid_param("Invalid cursor") from None


def page(items: Sequence[T], request: Request, *, default_limit: int = 25, max_limit: int = 5000,
         render: Callable[[T], Json] | None = None) -> Json:
    """One cursor page of ``items``: ``paging.next`` only when more items follow (A2). ``render`` turns an item
    into its JSON object (none: items are JSON objects already); only the page's items are rendered."""
    try:
        limit = int(request.params.get("limit", default_limit))
    except ValueError:
        raise invalid_param("Param limit must be an integer") from None
    limit = max(1, min(limit, max_limit))
    start = _position(request.params["after"]) + 1 if "after" in request.params else 0
    if "before" in request.params:
        start = max(0, _position(request.params["before"]) - limit)
    if request.empty_page and start < len(items):  # the next URL serves the items we held back
        held = _cursor(start - 1)
        return {"data": [], "paging": {"cursors": {"before": held, "after": held}, "next": request.url(after=held)}}
    chunk = [render(item) if render else item for item in items[start : start + limit]]
    body: Json = {"data": chunk}
    if chunk:
        paging: Json = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk) - 1)}}
        if start + len(chunk) < len(items):
            paging["next"] = request.url(after=_cursor(start + len(chunk) - 1), limit=str(limit))
        if start > 0:
            paging["previous"] = request.url(before=_cursor(start), limit=str(limit))
        body["paging"] = paging
    return body
