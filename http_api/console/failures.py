"""The console's answers when a page fails: HTML pages a person can act on, not the API's JSON envelope.

The database down (a restart, an outage) is a 503 page that says so, carries ``Retry-After`` and, for a GET,
reloads itself; an error the API's own functions raise and the page did not handle is its status and message;
a crash is a 500 page with the request id to quote, logged once as the API logs its crashes. A blueprint's
handler for ``Exception`` would otherwise also catch werkzeug's HTTP errors (a 405), so those get a page too.
"""

from __future__ import annotations

import logging

from quart import Blueprint, Response, render_template, request
from werkzeug.exceptions import HTTPException

from engine.store.errors import StoreUnavailable
from http_api.console.responses import html_page
from http_api.errors import ApiError

__all__ = ["RETRY_AFTER_SECONDS", "add_failure_pages"]

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def add_failure_pages(bp: Blueprint) -> None:
    @bp.errorhandler(StoreUnavailable)
    async def database_down(error: StoreUnavailable) -> Response:
        log.debug("database unavailable during a console page: %s", error)
        page = await _failure(503, "Back in a moment",
                              "The database is not answering (it may be restarting). Nothing was lost; "
                              + ("this page reloads by itself." if request.method == "GET"
                                 else "send the form again in a few seconds."),
                              reload=request.method == "GET")
        page.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return page

    @bp.errorhandler(ApiError)
    async def refused_by_the_api(error: ApiError) -> Response:
        page = await _failure(error.status, "This did not work", f"{error.message}.")
        page.headers.update(error.headers)
        return page

    @bp.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        return await _failure(error.code or 500, error.name, error.description or error.name)

    @bp.errorhandler(Exception)
    async def crash(error: Exception) -> Response:
        log.error("unhandled error in a console page", exc_info=error)
        return await _failure(500, "Something went wrong",
                              "The page failed on our side and nothing more was done.")


async def _failure(status: int, heading: str, message: str, *, reload: bool = False) -> Response:
    html = await render_template("console/failure.html", heading=heading, message=message, reload=reload,
                                 retry_after=RETRY_AFTER_SECONDS)
    return html_page(html, status)
