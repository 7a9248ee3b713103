"""``SpotifyClient`` against the simulator over HTTP: every endpoint, paging to the end, development vs
extended mode, and how limits, expiry and faults surface as ``engine.provider`` errors.

Rules: the simulator runs in-process behind ``httpx.ASGITransport`` (one test serves it on a real port);
tokens come from the real ``oauth`` functions; simulated time moves only through ``ManualTime.advance``;
we observe only what the client returns or raises, plus the simulator's request log for counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio

from adapters.spotify.client import SAVED_TRACKS, SpotifyClient
from adapters.spotify.oauth import authorize_url, code_from_callback, exchange_code, pkce_pair
from adapters.spotify.schemas import Page, Track
from adapters.spotify.simulator import (
    ClientApp,
    FaultConfig,
    ManualTime,
    RateLimitConfig,
    SimClock,
    SimulatorConfig,
    SpotifySimulator,
    serve_spotify_simulator,
)
from adapters.spotify.simulator.sandbox import ALL_SCOPES
from engine.provider import AuthExpiredError, FatalProviderError, RateLimitedError, ReauthRequiredError, RetryableError

START = datetime(2026, 9, 1, tzinfo=UTC)
BASE = "http://sim.test"
APP = ClientApp()
UNKNOWN_ID = "0" * 22


def _simulator(mode: str = "extended", **overrides: object) -> tuple[SpotifySimulator, ManualTime]:
    config = SimulatorConfig(**{"seed": 7, "mode": mode, **overrides})  # type: ignore[arg-type]
    time = ManualTime()
    return SpotifySimulator(config, clock=SimClock(START + timedelta(days=3), monotonic=time)), time


def _http(simulator: SpotifySimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(simulator), base_url=BASE)


class _Tokens:
    """A token provider holding one access token, counting how often the client asks."""

    def __init__(self, token: str) -> None:
        self.token, self.calls = token, 0

    async def __call__(self) -> str:
        self.calls += 1
        return self.token


async def _connect(http: httpx.AsyncClient, user: str = "fan0001", base: str = BASE) -> tuple[SpotifyClient, _Tokens]:
    verifier, challenge = pkce_pair()
    url = authorize_url(APP.client_id, APP.redirect_uris[0], ALL_SCOPES.split(), "s", challenge, base=base)
    answer = await http.get(f"{url}&sim_user={user}")  # sandbox-only: which simulated user consents
    code = code_from_callback(answer.headers["location"], "s")
    tokens = await exchange_code(http, code=code, verifier=verifier, redirect_uri=APP.redirect_uris[0],
                                 client_id=APP.client_id, token_url=f"{base}/api/token")
    provider = _Tokens(tokens.access_token)
    return SpotifyClient(http, provider, base_url=f"{base}/v1"), provider


async def test_me_in_extended_and_development_mode() -> None:
    for mode in ("extended", "development"):
        simulator, _ = _simulator(mode)
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            me = await client.me()
        assert me.id == "fan0001" and me.account_id and me.display_name == "Fan 1"
        assert (me.email is None) == (mode == "development")
        assert (me.followers is None) == (mode == "development")


async def test_track_and_artist_popularity_is_optional() -> None:
    seen: dict[str, tuple[int | None, int | None, int | None]] = {}
    for mode in ("extended", "development"):
        simulator, _ = _simulator(mode)
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            saved = await client.saved_tracks(limit=1)
            track = await client.track(saved.items[0].track.id or "")
            artist = await client.artist(track.artists[0].id)
        assert track == saved.items[0].track and track.isrc and track.duration_ms
        assert track.album is not None and track.album.artists[0].id == artist.id
        seen[mode] = (track.popularity, artist.popularity, artist.followers.total if artist.followers else None)
    assert seen["development"] == (None, None, None)
    assert all(isinstance(value, int) for value in seen["extended"])


async def test_saved_tracks_page_to_the_end() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        client, tokens = await _connect(http)
        pages = [page async for page in client.iter_pages(SAVED_TRACKS, limit=4)]
        everything = [saved async for saved in client.all_saved_tracks()]
    total = pages[0].total or 0
    assert total > 4 and len(pages) == -(-total // 4)
    assert all(p.next for p in pages[:-1]) and pages[-1].next is None
    assert [s.track.id for p in pages for s in p.items] == [s.track.id for s in everything]
    assert len(everything) == total and len({s.track.id for s in everything}) == total
    added = [s.added_at for s in everything]
    assert added == sorted(added, reverse=True) and added[0].tzinfo is not None
    assert tokens.calls == len(pages) + 1  # asked once per request: the client holds no token


async def test_playlists_decode_to_one_shape_in_both_modes() -> None:
    found = {}
    for mode in ("extended", "development"):
        simulator, _ = _simulator(mode)
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            found[mode] = [p async for p in client.all_playlists()]
    extended, development = found["extended"], found["development"]
    assert len(extended) == 4 and [p.id for p in extended] == [p.id for p in development]
    for ext, dev in zip(extended, development, strict=True):
        assert ext.tracks and dev.tracks and ext.tracks.total == dev.tracks.total
        assert ext.tracks.href and ext.tracks.href.endswith("/tracks")
        assert dev.tracks.href and dev.tracks.href.endswith("/items") and dev.contents is None
        assert ext.owner and ext.owner.id == "songtrack-label"


async def test_playlist_items_in_both_modes() -> None:
    contents = {}
    for mode in ("extended", "development"):
        simulator, _ = _simulator(mode)
        async with _http(simulator) as http:
            client, _ = await _connect(http, "songtrack-label")  # the owner: dev mode shows only its own
            playlist = (await client.playlists(limit=1)).items[0]
            contents[mode] = [entry async for entry in client.all_playlist_items(playlist.id)]
            first = await client.playlist_items(playlist.id, limit=1)
        assert playlist.tracks and len(contents[mode]) == playlist.tracks.total == first.total
        assert all(e.track and e.track.id and e.added_at and e.renamed is None for e in contents[mode])
    ext, dev = ([e.track.id for e in contents[m] if e.track] for m in ("extended", "development"))
    assert ext == dev


async def test_dev_mode_hides_playlists_the_user_does_not_own() -> None:
    simulator, _ = _simulator("development")
    async with _http(simulator) as http:
        client, _ = await _connect(http, "fan0001")
        playlist = (await client.playlists(limit=1)).items[0]
        with pytest.raises(FatalProviderError, match="403"):
            await client.playlist_items(playlist.id)


async def test_top_tracks_and_artists() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        client, _ = await _connect(http)
        tracks = await client.top("tracks", "short_term", limit=5)
        artists = await client.top("artists", limit=3, offset=1)
        with pytest.raises(ValueError, match="kind"):
            await client.top("albums", limit=3)  # type: ignore[call-overload]
    assert len(tracks.items) == 5 and all(isinstance(t, Track) for t in tracks.items)
    assert tracks.href and "time_range=short_term" in tracks.href
    assert len(artists.items) == 3 and artists.offset == 1 and artists.items[0].genres
    assert [r.path for r in simulator.log].count("/v1/me/top/tracks") == 1


async def test_recently_played_with_cursors() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        client, tokens = await _connect(http)
        newest, cursors = await client.recently_played(limit=10)
        assert cursors and cursors.after and cursors.before
        older, _ = await client.recently_played(before_ms=int(cursors.before), limit=10)
        time.advance(12 * 3600)
        client, _ = await _connect(http)
        newer, newer_cursors = await client.recently_played(after_ms=int(cursors.after))
        assert newer_cursors and newer_cursors.after
        assert await client.recently_played(after_ms=int(newer_cursors.after)) == ([], None)
        calls = tokens.calls
        with pytest.raises(ValueError, match="exclusive"):
            await client.recently_played(after_ms=1, before_ms=2)
    assert len(newest) == len(older) == 10 and tokens.calls == calls
    assert newest[-1].played_at > older[0].played_at
    assert newer and min(p.played_at for p in newer) > newest[0].played_at
    assert all(p.track.id for p in newest) and any(p.context for p in newest + older)


async def test_search_finds_a_track_and_respects_the_dev_limit() -> None:
    for mode, default in (("extended", 20), ("development", 5)):
        simulator, _ = _simulator(mode)
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            track = (await client.saved_tracks(limit=1)).items[0].track
            results = await client.search(f"track:{track.name.split()[0]}", type="track,artist")
            by_isrc = await client.search(f"isrc:{track.isrc}")
            with pytest.raises(FatalProviderError, match="400"):
                await client.search("a", limit=default + 31)
        assert results.tracks is not None and results.artists is not None and results.playlists is None
        assert results.tracks.limit == default
        assert by_isrc.tracks and [t.id for t in by_isrc.tracks.items] == [track.id]


async def test_window_429_is_rate_limited_for_retry_after() -> None:
    for json_body in (False, True):
        simulator, _ = _simulator(rate_limit=RateLimitConfig(window_limit=2, json_body=json_body))
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            await client.me()
            await client.me()
            with pytest.raises(RateLimitedError) as caught:
                await client.me()
        assert caught.value.reset_after == 30.0 and caught.value.domain == "spotify:app"
        assert simulator.log[-1].outcome == "rate_limited"


async def test_quota_429_parks_for_the_rest_of_the_day() -> None:
    simulator, time = _simulator("development", rate_limit=RateLimitConfig(daily_quota=1))
    async with _http(simulator) as http:
        client, _ = await _connect(http, "songtrack-label")
        await client.me()
        time.advance(600)
        with pytest.raises(RateLimitedError) as caught:
            await client.saved_tracks()
    assert caught.value.reset_after == 86_400 - 600
    assert "QUOTA_EXCEEDED" in caught.value.message


async def test_expired_token_is_auth_expired_not_reauth() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        client, _ = await _connect(http)
        time.advance(3600)
        with pytest.raises(AuthExpiredError, match="expired") as caught:
            await client.me()
    assert not isinstance(caught.value, ReauthRequiredError)


async def test_dev_mode_user_off_the_allowlist_is_fatal() -> None:
    simulator, _ = _simulator("development")
    async with _http(simulator) as http:
        client, _ = await _connect(http, "fan0009")
        with pytest.raises(FatalProviderError, match="403"):
            await client.me()


async def test_unknown_ids_and_faults() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        client, _ = await _connect(http)
        with pytest.raises(FatalProviderError, match="404"):
            await client.track(UNKNOWN_ID)
    for faults in (FaultConfig(error_rate=1.0), FaultConfig(malformed_rate=1.0)):
        simulator, _ = _simulator(faults=faults)
        async with _http(simulator) as http:
            client, _ = await _connect(http)
            with pytest.raises(RetryableError):
                await client.saved_tracks()


async def test_network_failure_is_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def token() -> str:
        return "t"

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(RetryableError, match="ConnectError"):
            await SpotifyClient(http, token).me()


async def test_next_links_off_the_api_root_are_not_followed() -> None:
    # A hostile or buggy next link must not receive our bearer token; a fake outside world serves one.
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "next": "https://evil.example/v1/me/tracks?offset=50"})

    async def token() -> str:
        return "t"

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        pages = SpotifyClient(http, token).iter_pages(SAVED_TRACKS)
        assert (await pages.__anext__()).items == []
        with pytest.raises(FatalProviderError, match="next link"):
            await pages.__anext__()


async def test_latency_runs_on_the_trio_clock(autojump_clock: trio.abc.Clock) -> None:
    simulator, _ = _simulator(faults=FaultConfig(latency_s=5.0))
    async with _http(simulator) as http:
        client, _ = await _connect(http)
        start = trio.current_time()
        with trio.fail_after(60):
            page: Page[Track] = await client.top("tracks")
    assert page.items and trio.current_time() - start >= 5.0


async def test_against_a_served_port() -> None:
    simulator = SpotifySimulator(SimulatorConfig(seed=7))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_spotify_simulator, simulator, "127.0.0.1", 0)
            async with httpx.AsyncClient() as http:
                client, _ = await _connect(http, "fan0002", base=url)
                me = await client.me()
                pages = [page async for page in client.iter_pages(SAVED_TRACKS, limit=3)]
            nursery.cancel_scope.cancel()
    assert me.id == "fan0002" and len(pages) > 1 and pages[-1].next is None
    assert pages[0].next and pages[0].next.startswith(f"{url}/v1/me/tracks?")  # absolute, on the bound port
    assert sum(len(p.items) for p in pages) == pages[0].total
