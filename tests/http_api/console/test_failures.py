"""When a console page fails, the person gets an HTML page that says what to do, not the API's JSON: the
database down is a 503 that reloads itself, an API refusal or an HTTP error keeps its status and message,
and a crash is a 500 page with the request id to quote and nothing of its internals."""

from __future__ import annotations

from pathlib import Path

import pytest
from quart_trio import QuartTrio
from werkzeug.exceptions import BadRequest

from config import load, load_or_create_keys
from engine.store.database import Database, open_database
from engine.store.migrate import discover
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from http_api.context import ApiContext
from tests.helpers.factories import create_session
from tests.http_api.console.conftest import csrf_of, open_console


async def _closed_database(db: Database) -> Database:
    """A Database on the same server whose pool has been closed: every statement on it fails as it does
    while the server is unreachable."""
    async with open_database(db.dsn, max_size=1) as gone:
        pass
    return gone


async def test_a_page_while_the_database_is_down_says_so_and_reloads_itself(db: Database, tmp_path: Path) -> None:
    current = [db]
    ctx = ApiContext(lambda: current[0], discover(), load({}), load_or_create_keys(tmp_path / "data"))
    async with open_console(db, ctx) as console:
        await console.sign_in()
        form = await console.browser.get("/app/webhooks")
        current[0] = await _closed_database(db)

        page = await console.browser.get("/app")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert page.headers["content-type"].startswith("text/html")
        assert "The database is not answering" in page.text and 'http-equiv="refresh"' in page.text
        assert page.headers["X-Request-ID"] in page.text

        sent = await console.browser.post("/app/webhooks", data={"csrf_token": csrf_of(form.text),
                                                                 "url": "https://example.com/hook"})
        assert sent.status_code == 503 and "send the form again" in sent.text
        assert 'http-equiv="refresh"' not in sent.text  # reloading would not send the form again

        current[0] = db
        assert (await console.browser.get("/app")).status_code == 200


async def test_an_api_refusal_the_page_did_not_handle_keeps_its_status_in_html(db: Database,
                                                                                tmp_path: Path) -> None:
    # No database yet: the API's functions answer 503 "still starting", with the time to retry after.
    ctx = ApiContext(lambda: None, discover(), load({}), load_or_create_keys(tmp_path / "data"))
    async with open_console(db, ctx) as console:
        session, _ = await create_session(db, console.user)
        console.browser.cookies.set(SESSION_COOKIE, session_cookie(ctx.keys, session.id, console.user.id))
        page = await console.browser.get("/app")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert page.headers["content-type"].startswith("text/html")
    assert "the database is still starting" in page.text


async def _failing_page(app: QuartTrio, error: Exception) -> tuple[int, str, str]:
    """The status, request id and HTML of a console page that raises ``error``."""
    async def failing() -> str:
        raise error

    # An endpoint named under the console's Blueprint gets the console's error pages, as its own pages do.
    app.add_url_rule("/app/failing", "console.failing", failing)
    response = await app.test_client().get("/app/failing")
    assert response.headers["content-type"].startswith("text/html")
    return response.status_code, response.headers["X-Request-ID"], await response.get_data(as_text=True)


async def test_an_http_error_in_a_console_page_keeps_its_status_in_html(app: QuartTrio) -> None:
    status, _, page = await _failing_page(app, BadRequest("the form could not be read"))
    assert status == 400 and "the form could not be read" in page


async def test_a_crash_in_a_console_page_is_a_500_page_without_internals(app: QuartTrio,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    status, request_id, page = await _failing_page(app, RuntimeError("secret internals"))
    assert status == 500 and "Something went wrong" in page and request_id in page
    assert "secret internals" not in page
    assert any(record.exc_info and "secret internals" in str(record.exc_info[1]) for record in caplog.records)
