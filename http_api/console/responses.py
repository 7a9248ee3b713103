"""The two kinds of answer a console page gives: an HTML page, or a redirect (Quart's own ``redirect`` is
typed as werkzeug's Response, which our handlers do not return)."""

from __future__ import annotations

from quart import Response

__all__ = ["html_page", "redirect_to"]


def html_page(html: str, status: int = 200) -> Response:
    # Pages show an organization's data: never cached, never framed by another site.
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
               "Content-Security-Policy": "frame-ancestors 'none'"}
    return Response(html, status=status, content_type="text/html; charset=utf-8", headers=headers)


def redirect_to(location: str, status: int = 303) -> Response:
    """See Other by default: after a form POST the browser GETs ``location``."""
    return Response("", status=status, headers={"Location": location})
