"""Declaring an API route once: its path, who may call it, what it takes and
returns. The same declaration drives validation, authentication, role checks,
rate limits, the response encoding and the OpenAPI document.

Handlers receive a ``Call`` (the caller, the validated body and query, the
database) plus the path parameters, and return a Struct (encoded as JSON with the
declared status), ``None`` (for 204), or a ready ``Response`` (redirects).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from quart import Blueprint, Response, request

from engine.audit import AuditContext, acting_as
from engine.store.database import Database
from http_api.auditing import MUTATING, request_context, route_source
from http_api.auth.principal import Principal, authenticate
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.quotas import HOUR, TIER_LIMITS, verdict
from http_api.responses import json_response
from http_api.validation import decode_json, validate

__all__ = ["Access", "Call", "Endpoint", "Router", "form_body"]


class Access(enum.IntEnum):
    """The least role a route needs; roles rank viewer < member < admin < owner."""

    PUBLIC = 0
    VIEWER = 1  # any member of the organization, read only
    MEMBER = 2  # changes the organization's data
    ADMIN = 3  # manages people: invitations, roles
    OWNER = 4


ROLE_RANK = {"viewer": Access.VIEWER, "member": Access.MEMBER, "admin": Access.ADMIN, "owner": Access.OWNER}


@dataclass(frozen=True)
class Endpoint:
    method: str
    rule: str  # Quart's syntax: /v1/campaigns/<uuid:campaign_id>
    summary: str
    tag: str
    access: Access
    body: type | None = None
    query: type | None = None
    response: type | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    # Other documented outcomes that are not errors, e.g. 503 with a Readiness body.
    other_responses: tuple[tuple[int, type | None, str], ...] = ()
    # A multipart/form-data body (uploads) instead of JSON: its ``bytes`` fields are the files.
    form: type | None = None


@dataclass
class Call:
    """One request, as a handler sees it."""

    ctx: ApiContext
    principal: Principal | None
    body: Any = None
    query: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    filenames: dict[str, str] = field(default_factory=dict)  # a form's files: field name → file name

    @property
    def db(self) -> Database:
        """The database (503 while it is still starting)."""
        return self.ctx.db()

    @property
    def caller(self) -> Principal:
        """The authenticated caller (routes with an access level above PUBLIC always have one)."""
        assert self.principal is not None
        return self.principal


Handler = Callable[..., Awaitable[object]]


class Router:
    """A Blueprint whose routes are declared with ``route`` and listed in ``endpoints``."""

    def __init__(self, name: str, ctx: ApiContext, tag: str) -> None:
        self.blueprint = Blueprint(name, __name__)
        self.endpoints: list[Endpoint] = []
        self._ctx, self._tag = ctx, tag

    def route(
        self, method: str, rule: str, *, summary: str, access: Access, body: type | None = None,
        query: type | None = None, response: type | None = None, status: int = 200,
        errors: tuple[int, ...] = (), description: str = "",
        other_responses: tuple[tuple[int, type | None, str], ...] = (), form: type | None = None,
    ) -> Callable[[Handler], Handler]:
        endpoint = Endpoint(method, rule, summary, self._tag, access, body, query, response, status,
                            errors, description, other_responses, form)
        self.endpoints.append(endpoint)

        def register(handler: Handler) -> Handler:
            view = functools.partial(_serve, self._ctx, endpoint, handler)
            name = f"{handler.__name__}"
            self.blueprint.add_url_rule(rule, name, _named(view, name), methods=[method])
            return handler

        return register


def _named(view: Callable[..., Awaitable[Response]], name: str) -> Callable[..., Awaitable[Response]]:
    async def endpoint_view(**params: object) -> Response:
        return await view(**params)

    endpoint_view.__name__ = name
    return endpoint_view


async def _serve(ctx: ApiContext, endpoint: Endpoint, handler: Handler, **params: object) -> Response:
    call = Call(ctx, None)
    try:
        if endpoint.access > Access.PUBLIC:
            call.principal = await _authorize(ctx, call.db, endpoint.access, call.headers)
        if endpoint.query is not None:
            call.query = validate(_query_args(), endpoint.query, strict=False, where="query")
        if endpoint.body is not None:
            call.body = validate(await _json_body(), endpoint.body)
        if endpoint.form is not None:
            call.body = validate(await form_body(call.filenames), endpoint.form, strict=False, where="form")
        if endpoint.method in MUTATING:
            with acting_as(_acting(endpoint, call.principal)):
                result = await handler(call, **params)
        else:
            result = await handler(call, **params)
    except ApiError as err:
        err.headers = {**call.headers, **err.headers}
        raise
    response = _encode(result, endpoint.status)
    response.headers.update(call.headers)
    return response


def _acting(endpoint: Endpoint, caller: Principal | None) -> AuditContext:
    """Who the audit log names for a state-changing route: the caller, or an anonymous client on a public
    route (signing up, logging in: the rows they write say whose account or session it is)."""
    source = route_source(endpoint.method, endpoint.rule)
    if caller is None:
        return request_context(source)
    return request_context(source, caller.user_id, caller.email, caller.organization_id)


async def _authorize(ctx: ApiContext, db: Database, access: Access, headers: dict[str, str]) -> Principal:
    principal = await authenticate(ctx, db, request.headers.get("Authorization"))
    limit = TIER_LIMITS.get(principal.tier, TIER_LIMITS["free"])
    now = ctx.now()
    count = await ctx.quotas.count(db, principal.organization_id, limit, now)
    budget = verdict(count, limit=limit, window=HOUR, now=now)
    headers.update(budget.headers())
    if not budget.allowed:
        raise budget.error(f"the organization's {principal.tier} tier allows {limit} requests per hour")
    if ROLE_RANK[principal.role] < access:
        raise ApiError(403, "AUTHORIZATION_ERROR",
                       f"this needs the {access.name.lower()} role or higher; you are {principal.role}")
    return principal


async def _json_body() -> object:
    # No body at all (no type, no length) is an empty object, so a route whose fields are all optional
    # takes a bare POST, as the API reference's own examples send it (``POST /audiences/:id/sync/meta``).
    if not request.mimetype and not request.content_length and "Transfer-Encoding" not in request.headers:
        return {}
    if request.mimetype != "application/json":
        detail = ErrorDetail("Content-Type", f"expected application/json, got {request.mimetype or 'none'}")
        raise ApiError(400, "VALIDATION_ERROR", "the body must be JSON", [detail])
    raw = await request.get_data(cache=False, as_text=False)
    return decode_json(raw.encode() if isinstance(raw, str) else raw)


async def form_body(filenames: dict[str, str]) -> dict[str, object]:
    """The text fields and the files' bytes of a multipart body; ``filenames`` gets the files' names."""
    if request.mimetype != "multipart/form-data":
        detail = ErrorDetail("Content-Type", f"expected multipart/form-data, got {request.mimetype or 'none'}")
        raise ApiError(400, "VALIDATION_ERROR", "the body must be a multipart form", [detail])
    data: dict[str, object] = dict((await request.form).items())
    for name, upload in (await request.files).items():
        data[name] = upload.read()
        filenames[name] = upload.filename or name
    return data


def _query_args() -> dict[str, str]:
    args = request.args.to_dict()
    for name, value in args.items():
        if "\x00" in value:
            raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                           [ErrorDetail(name, "may not contain the NUL character")])
    return args


def _encode(result: object, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", status=204 if status == 200 else status)
    return json_response(result, status=status)
