"""Who acts in an HTTP request, for the audit log (docs/audit-log.md): the signed-in caller (a token or a
console session) or, on a public route, an anonymous client; with its address (as ``forwarded.py`` settled
it), the request id and the route template the request matched. The routes' own code never sets it:
``routing.py`` does for every state-changing route, ``console/acting.py`` for every console form.
"""

from __future__ import annotations

import re
import uuid

from quart import request

from engine.audit import Actor, AuditContext
from engine.logs import current_request

__all__ = ["MUTATING", "current_source", "request_context", "route_source"]

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def route_source(method: str, rule: str) -> str:
    """``POST /v1/campaigns/{campaign_id}/launch`` for Quart's ``/v1/campaigns/<uuid:campaign_id>/launch``:
    the template, as the OpenAPI document names it, never the ids of one request."""
    return method + " " + _PARAM.sub(r"{\1}", rule)


def current_source() -> str:
    """The current request's route template (its path when it matched none)."""
    return route_source(request.method, request.url_rule.rule if request.url_rule is not None else request.path)


def request_context(source: str, user_id: uuid.UUID | None = None, email: str = "",
                    organization_id: uuid.UUID | None = None) -> AuditContext:
    """The current request acting as the user ``user_id`` (``email`` its label), or anonymously without one."""
    actor = Actor(type="user", user_id=user_id, label=email) if user_id is not None else Actor(type="anonymous")
    return AuditContext(actor=actor, source=source, organization_id=organization_id, ip=request.remote_addr,
                        request_id=current_request.get())
