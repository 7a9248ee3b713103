"""The one error envelope of the API and the handlers that produce it.

Every failure leaves the API as ``{"error": {"code", "message", "details", "requestId"}}``
with the codes of the API reference; nothing else, and never a traceback. ``requestId`` extends the
reference's envelope: the request's ``X-Request-ID``, so a user can quote a failure (a 500 included) and we
can find its log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import msgspec
from quart import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from engine.logs import current_request
from engine.store.catalog_common import Conflict, NotFound
from engine.store.errors import StoreUnavailable
from http_api.responses import json_response

if TYPE_CHECKING:
    from quart_trio import QuartTrio

__all__ = ["ApiError", "ErrorDetail", "install_error_handlers", "not_found", "store_errors"]

log = logging.getLogger(__name__)


class ErrorDetail(msgspec.Struct, frozen=True):
    field: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True, rename="camel"):
    code: str
    message: str
    details: list[ErrorDetail] = []
    # Read when the body is made, which is always while its request is handled.
    request_id: str | None = msgspec.field(default_factory=current_request.get)


class ErrorEnvelope(msgspec.Struct, frozen=True):
    error: ErrorBody


class ApiError(Exception):
    """Raised by a route to answer with the envelope; ``status`` is the HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers: dict[str, str] = {}  # e.g. Retry-After, WWW-Authenticate, X-RateLimit-*


# Status codes of werkzeug's HTTPExceptions mapped to the reference's codes.
_CODES = {
    400: "VALIDATION_ERROR",
    401: "AUTHENTICATION_ERROR",
    403: "AUTHORIZATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
}


def error_response(err: ApiError) -> Response:
    body = ErrorEnvelope(ErrorBody(err.code, err.message, err.details))
    response = json_response(body, status=err.status)
    response.headers.update(err.headers)
    return response


def install_error_handlers(app: QuartTrio) -> None:
    """Route ApiError, HTTP errors (404, 405, 413, ...) and any crash through the envelope."""

    @app.errorhandler(ApiError)
    async def _api_error(err: ApiError) -> Response:
        return error_response(err)

    @app.errorhandler(HTTPException)
    async def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        message = err.description or err.name
        response = error_response(ApiError(status, _CODES.get(status, "SERVER_ERROR"), message))
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(StoreUnavailable)
    async def _store_down(err: StoreUnavailable) -> Response:
        # The database is down or restarting: a condition to retry, not a bug (the Database logs the outage).
        log.debug("database unavailable during a request: %s", err)
        error = ApiError(503, "SERVICE_UNAVAILABLE", "the database is unavailable; retry shortly")
        error.headers["Retry-After"] = "5"
        return error_response(error)

    @app.errorhandler(Exception)
    async def _crash(err: Exception) -> Response:
        # The one place an unexpected error is logged; the client only learns that it happened.
        log.error("unhandled error in request", exc_info=err)
        return error_response(ApiError(500, "SERVER_ERROR", "internal server error"))


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate the catalog store's errors at the seam: ``NotFound`` becomes 404 NOT_FOUND and
    ``Conflict`` 409 CONFLICT, each with one detail naming the store's (camelCase) field."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(404, "NOT_FOUND", exc.message, [ErrorDetail(exc.field, exc.message)]) from exc
    except Conflict as exc:
        raise ApiError(409, "CONFLICT", exc.message, [ErrorDetail(exc.field, exc.message)]) from exc


def not_found(what: str) -> ApiError:
    """The 404 for an id the caller's organization does not have. Another organization's row gets the
    same answer: saying it exists elsewhere would leak it."""
    return ApiError(404, "NOT_FOUND", f"no such {what} in your organization")
