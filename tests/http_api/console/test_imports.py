"""The console's imports pages: a report uploaded as a browser's multipart form goes through the API's own
import (its rows written by the job runner), the import's page polls its status while it runs and lists each
row left out; a file the API refuses is said next to the file field; a viewer has no upload form and is
refused; another organization's import is a 404 page."""

from __future__ import annotations

import re
import uuid

import httpx
import trio

from engine.store import imports
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from tests.helpers.factories import create_member, create_owner, create_session, create_track
from tests.http_api.console.conftest import Console, csrf_of

AUDIENCE = b"date,listeners,streams,followers\n2026-03-01,120,300,4\n2026-03-02,many,310,4\n"


async def _upload(console: Console, content: bytes, filename: str = "audience.csv",
                  **fields: str) -> tuple[str, httpx.Response]:
    page = (await console.browser.get("/app/imports")).text
    answer = await console.browser.post("/app/imports", data={"csrf_token": csrf_of(page), **fields},
                                        files={"file": (filename, content, "text/csv")})
    return page, answer


async def _finished(console: Console, import_id: str) -> str:
    """The status part once the import has ended: then it stops polling."""
    while True:
        part = (await console.browser.get(f"/app/imports/{import_id}/status")).text
        if "hx-get" not in part:
            return part
        await trio.sleep(0.05)


async def test_upload_shows_progress_then_the_rows_left_out(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page, answer = await _upload(console, AUDIENCE, artist="Zoé")
        assert 'enctype="multipart/form-data"' in page and 'aria-current="page">Imports' in page
        assert answer.status_code == 303
        location = answer.headers["location"]
        import_id = location.rsplit("/", 1)[1]
        shown = (await console.browser.get(location)).text
        assert "The import has started." in shown and "Import of audience.csv" in shown and "htmx" in shown
        part = await _finished(console, import_id)
        assert "Status: succeeded" in part and "1 imported, 1 left out" in part
        row = re.search(r'<tr><th scope="row">(\d+)</th><td>([^<]+)</td><td>([^<]+)</td></tr>', part)
        assert row is not None and row.groups()[:2] == ("3", "listeners")
        listed = (await console.browser.get("/app/imports")).text
        assert f'href="/app/imports/{import_id}">audience.csv' in listed
        _, again = await _upload(console, AUDIENCE, artist="Zoé")
        assert again.headers["location"] == location
        assert "This file was imported before" in (await console.browser.get(location)).text


async def test_a_refused_file_is_said_next_to_its_field(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        _, answer = await _upload(console, b"what,is,this\n1,2,3\n", artist="Zoé")
        assert answer.status_code == 400
        text = answer.text
        assert 'aria-invalid="true" aria-describedby="file-hint file-error"' in text
        error = re.search(r'<p class="error" id="file-error">([^<]+)</p>', text)
        assert error is not None and "header" in error.group(1)
        assert 'value="Zoé"' in text
        _, missing = await _upload(console, b"", filename="")
        assert missing.status_code == 400 and 'id="file-error"' in missing.text
        assert await console.db.fetchval("SELECT count(*) FROM imports") == 0


async def test_a_viewer_reads_but_cannot_upload(console: Console) -> None:
    with trio.fail_after(20):
        viewer = await create_member(console.db, console.org.id, f"v-{uuid.uuid4().hex[:8]}@example.com", "viewer")
        session, _ = await create_session(console.db, viewer)
        console.browser.cookies.set(SESSION_COOKIE, session_cookie(console.ctx.keys, session.id, viewer.id))
        page, answer = await _upload(console, AUDIENCE, artist="Zoé")
        assert "Upload a report" not in page and answer.status_code == 403


async def test_another_organizations_import_is_not_found(console: Console) -> None:
    with trio.fail_after(20):
        other, owner = await create_owner(console.db, f"other-{uuid.uuid4().hex[:8]}@example.com")
        new = imports.NewImport(sha256="ab" * 32, filename="theirs.csv", size_bytes=10, kind="s4a_songs",
                                encoding="utf-8", total_rows=1)
        record, _ = await imports.start_import(console.db, other.id, new, [], owner.id)
        await console.sign_in()
        assert (await console.browser.get(f"/app/imports/{record.id}")).status_code == 404
        assert (await console.browser.get(f"/app/imports/{record.id}/status")).status_code == 286


async def test_a_song_timeline_names_its_track_or_is_told_to(console: Console) -> None:
    with trio.fail_after(20):
        track = await create_track(console.db, console.org.id, title="Neon Lights", artist="Zoé Marchand")
        await console.sign_in()
        timeline = b"date,streams\n2026-03-01,300\n2026-03-02,310\n"
        page, unknown = await _upload(console, timeline, filename="B-side-timeline.csv")
        assert f'<option value="{track}">Neon Lights · Zoé Marchand</option>' in page
        assert unknown.status_code == 400 and 'aria-describedby="trackId-error"' in unknown.text
        _, chosen = await _upload(console, timeline, filename="B-side-timeline.csv", trackId=str(track))
        assert chosen.status_code == 303
        part = await _finished(console, chosen.headers["location"].rsplit("/", 1)[1])
        assert "Status: succeeded" in part and "2 imported, 0 left out" in part
