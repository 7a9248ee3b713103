"""Where an OAuth callback lands when the console started the login: back on the console's integrations
page with a message, instead of the JSON the API's own callers get.

The console's start route marks its login with an HttpOnly cookie holding the SHA-256 of the login's
``state`` (the browser sends it back on the provider's top-level redirect: SameSite=Lax). A callback whose
``state`` matches it answers with a redirect to ``/app/integrations`` and the outcome in a short-lived
HttpOnly cookie the page shows once; every other callback keeps the API's behaviour. The state itself is
never stored in the browser, and the message is never in a URL (no one can make our page say their text).
"""

from __future__ import annotations

import hashlib

from quart import Response, request

from http_api.console.cookies import same_token, set_cookie
from http_api.console.responses import redirect_to

__all__ = [
    "FLASH_COOKIE", "LANDING_PAGE", "flash_shown", "land_in_console", "mark_console_start", "started_in_console",
]  # fmt: skip

LANDING_PAGE = "/app/integrations"
FLASH_COOKIE = "songtrack_flash"
_MARK_COOKIE = "songtrack_oauth_console"
_FLASH_AGE = 300  # long enough to survive a slow page load, short enough to never show twice by accident


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def mark_console_start(response: Response, state: str, *, max_age: int, public_url: str) -> None:
    """Mark the login ``state`` that ``response`` starts as the console's."""
    set_cookie(response, _MARK_COOKIE, _digest(state), max_age=max_age, public_url=public_url)


def started_in_console(state: str | None) -> bool:
    """True when this callback's ``state`` is the login the browser's console started."""
    return state is not None and same_token(request.cookies.get(_MARK_COOKIE), _digest(state))


def land_in_console(message: str, *, public_url: str, page: str = LANDING_PAGE) -> Response:
    """Back to a console ``page`` (the integrations page by default), which shows ``message`` once (the
    console's other buttons answer the same way)."""
    response = redirect_to(page)
    set_cookie(response, FLASH_COOKIE, message, max_age=_FLASH_AGE, public_url=public_url)
    response.delete_cookie(_MARK_COOKIE, path="/")
    return response


def flash_shown(response: Response) -> Response:
    """``response``, a page that showed the message: it is not shown again."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response
