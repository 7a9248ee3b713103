"""The tracks pages: the list (search and paging as ``GET /v1/tracks``), adding a track through ``POST
/v1/tracks``'s code (its refusals next to their fields), filing one from the Spotify simulator through ``POST
/v1/tracks/sync/spotify``'s code, and a track's page with its figures and campaigns. A viewer sees no form
and is refused when posting one; another organization's track is a 404 page; signed out, the pages send
to sign in."""

from __future__ import annotations

import re

import trio

from engine.store import tracks
from tests.helpers.factories import create_campaign, create_org, create_track
from tests.http_api.conftest import Simulators
from tests.http_api.console.conftest import Console, connect_in_console, csrf_of, sign_in_as_member


async def _post(console: Console, path: str, **fields: str) -> tuple[int, str, str]:
    """Post the tracks page's form at ``path``; the status, the page and where it sent the browser."""
    token = csrf_of((await console.browser.get("/app/tracks")).text)
    answer = await console.browser.post(path, data={"csrf_token": token, **fields})
    return answer.status_code, answer.text, answer.headers.get("location", "")


async def test_the_list_searches_and_pages(console: Console) -> None:
    with trio.fail_after(20):
        for title in ("Neon Rain", "Blue Hour", "Neon Nights"):
            await create_track(console.db, console.org.id, title=title, artist="The Moons")
        await console.sign_in()
        found = (await console.browser.get("/app/tracks", params={"search": "neon"})).text
        assert ">Neon Rain</a>" in found and ">Neon Nights</a>" in found and "Blue Hour" not in found
        first = (await console.browser.get("/app/tracks?limit=2")).text
        assert "1 to 2 of 3" in first and 'href="/app/tracks?limit=2&amp;offset=2"' in first
        assert 'aria-current="page">Tracks' in first
        bad = await console.browser.get("/app/tracks", params={"limit": "500"})
        assert bad.status_code == 400 and "limit:" in bad.text


async def test_adding_a_track_goes_to_its_page(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        status, _, location = await _post(console, "/app/tracks", title="Night Drive", artist="The Moons",
                                          album="", releaseDate="2026-05-01", isrc="")
        assert status == 303
        (track,) = (await tracks.list_tracks(console.db, console.org.id)).items
        assert location == f"/app/tracks/{track.id}" and str(track.release_date) == "2026-05-01"
        page = (await console.browser.get(location)).text
        assert "Night Drive by The Moons is added." in page and "No campaign promotes this track yet" in page


async def test_a_refused_track_is_said_next_to_its_field(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        status, page, _ = await _post(console, "/app/tracks", title="", artist="The Moons", isrc="US-123")
        assert status == 400
        assert re.search(r'id="title"[^>]*aria-invalid="true" aria-describedby="title-error"', page)
        assert 'id="isrc-error"' in page and 'value="The Moons"' in page
        assert (await tracks.list_tracks(console.db, console.org.id)).total == 0


async def test_a_track_is_filed_from_spotify(provider_console: Console, simulators: Simulators) -> None:
    console = provider_console
    with trio.fail_after(30):
        await console.sign_in()
        status, page, _ = await _post(console, "/app/tracks/sync", spotifyUri="spotify:track:short")
        assert status == 400 and 'id="spotifyUri-error"' in page
        spotify_id = simulators.spotify.world.catalog.campaign_track_ids[0]
        status, page, _ = await _post(console, "/app/tracks/sync", spotifyUri=f"spotify:track:{spotify_id}")
        assert status == 409 and "Spotify" in re.search(r'id="spotifyUri-error">([^<]+)<', page).group(1)  # type: ignore[union-attr]
        await connect_in_console(console, simulators, "spotify")
        status, _, location = await _post(console, "/app/tracks/sync", spotifyUri=f"spotify:track:{spotify_id}")
        assert status == 303
        page = (await console.browser.get(location)).text
        expected = simulators.spotify.world.catalog.tracks[spotify_id]
        assert "is added from Spotify" in page and expected.name in page and f'id="spotify-id">{spotify_id}' in page
        status, _, again = await _post(console, "/app/tracks/sync", spotifyUri=f"https://open.spotify.com/track/{spotify_id}")
        assert status == 303 and again == location
        assert "refreshed from Spotify" in (await console.browser.get(location)).text


async def test_a_tracks_page_lists_its_campaigns(console: Console) -> None:
    with trio.fail_after(20):
        track = await create_track(console.db, console.org.id, title="Night Drive", artist="The Moons")
        campaign = await create_campaign(console.db, console.org.id, name="Night Drive push", track_id=track)
        await console.sign_in()
        page = (await console.browser.get(f"/app/tracks/{track}")).text
        assert f'href="/app/campaigns/{campaign}">Night Drive push</a>' in page and 'id="track-streams">0<' in page


async def test_a_viewer_sees_no_forms_and_is_refused(console: Console) -> None:
    with trio.fail_after(20):
        await sign_in_as_member(console, "viewer")
        page = (await console.browser.get("/app/tracks")).text
        assert "Add the track" not in page and "File it from Spotify" not in page
        for path in ("/app/tracks", "/app/tracks/sync"):
            refused = await console.browser.post(path, data={"csrf_token": csrf_of(page), "title": "x",
                                                             "artist": "y", "spotifyUri": "x" * 22})
            assert refused.status_code == 403 and "role" in refused.text
        assert (await tracks.list_tracks(console.db, console.org.id)).total == 0


async def test_another_organizations_track_is_not_found(console: Console) -> None:
    with trio.fail_after(20):
        theirs = await create_track(console.db, await create_org(console.db), title="Their secret")
        await console.sign_in()
        page = await console.browser.get(f"/app/tracks/{theirs}")
        assert page.status_code == 404 and "Their secret" not in page.text


async def test_signed_out_the_catalog_pages_send_to_sign_in(console: Console) -> None:
    with trio.fail_after(20):
        for path in ("/app/tracks", "/app/audiences"):
            page = await console.browser.get(path)
            assert page.status_code == 303 and page.headers["location"] == f"/login?next={path}"
        posted = await console.browser.post("/app/tracks", data={"csrf_token": "x", "title": "x", "artist": "y"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
        assert (await tracks.list_tracks(console.db, console.org.id)).total == 0
