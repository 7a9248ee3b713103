"""The one error envelope of the API and the handlers that produce it.

Every failure leaves the API as ``{"error": {"code", "message", "details"}}``
with the codes of the API reference; nothing else, and never a traceback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from quart import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from http_api.responses import json_response

if TYPE_CHECKING:
    from quart_trio import QuartTrio

__all__ = ["ApiError", "ErrorDetail", "install_error_handlers"]

log = logging.getLogger(__name__)


class ErrorDetail(msgspec.Struct, frozen=True):
    field: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: list[ErrorDetail] = []


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

    @app.errorhandler(Exception)
    async def _crash(err: Exception) -> Response:
        # The one place an unexpected error is logged; the client only learns that it happened.
        log.error("unhandled error in request", exc_info=err)
        return error_response(ApiError(500, "SERVER_ERROR", "internal server error"))
