"""The console's answer for something that is not there, or belongs to another organization (the two
look the same, as in the API): a 404 page."""

from __future__ import annotations

from quart import Response, render_template

from http_api.console.responses import html_page

__all__ = ["not_found_page"]


async def not_found_page(what: str) -> Response:
    return html_page(await render_template("console/not_found.html", what=what), 404)
