"""The simulator's accounts service, driven over HTTP only (PROVIDERS.md B1, D "Spotify" OAuth).

Rules: every behaviour is observed through ``/authorize``, ``/api/token`` and ``/v1``; simulated time
moves only through ``ManualTime.advance``; the simulator runs in-process behind ``httpx.ASGITransport``.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.spotify.simulator import ClientApp, ManualTime, SimClock, SimulatorConfig, SpotifySimulator
from adapters.spotify.simulator.sandbox import pkce_login, pkce_pair

APP = ClientApp()
REDIRECT = APP.redirect_uris[0]
DAY = 86_400.0


def _simulator(**overrides: object) -> tuple[SpotifySimulator, ManualTime]:
    config = SimulatorConfig(seed=3, **overrides)  # type: ignore[arg-type]
    time = ManualTime()
    return SpotifySimulator(config, clock=SimClock(config.start, monotonic=time)), time


def _http(simulator: SpotifySimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(simulator), base_url="http://sim.test")


def _authorize_params(challenge: str | None, redirect_uri: str = REDIRECT) -> dict[str, str]:
    params = {"client_id": APP.client_id, "response_type": "code", "redirect_uri": redirect_uri,
              "state": "xyz-42", "scope": "user-read-private user-read-recently-played"}
    if challenge is not None:
        params |= {"code_challenge_method": "S256", "code_challenge": challenge}
    return params


def _redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def _refresh(http: httpx.AsyncClient, token: str, **extra: str) -> httpx.Response:
    return await http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": token,
                                               "client_id": APP.client_id, **extra})


async def test_pkce_round_trip_rotates_refresh_tokens() -> None:
    simulator, _ = _simulator()
    verifier, challenge = pkce_pair("v" * 43)
    async with _http(simulator) as http:
        query = _redirect_query(await http.get("/authorize", params=_authorize_params(challenge)))
        assert query["state"] == "xyz-42"
        token = await http.post("/api/token", data={
            "grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT,
            "client_id": APP.client_id, "code_verifier": verifier})
        assert token.status_code == 200
        body = token.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["scope"] == "user-read-private user-read-recently-played"
        me = await http.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200 and me.json()["type"] == "user"

        rotated = await _refresh(http, body["refresh_token"])
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != body["refresh_token"] and second["expires_in"] == 3600
        me = await http.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert me.status_code == 200

        reused = await _refresh(http, body["refresh_token"])
        assert reused.status_code == 400
        assert reused.json() == {"error": "invalid_grant", "error_description": "Refresh token revoked"}
        assert (await _refresh(http, second["refresh_token"])).status_code == 200


async def test_wrong_verifier_is_invalid_grant_and_burns_the_code() -> None:
    simulator, _ = _simulator()
    _, challenge = pkce_pair("a" * 64)
    async with _http(simulator) as http:
        code = _redirect_query(await http.get("/authorize", params=_authorize_params(challenge)))["code"]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": APP.client_id}
        wrong = await http.post("/api/token", data={**data, "code_verifier": "b" * 64})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        again = await http.post("/api/token", data={**data, "code_verifier": "a" * 64})
        assert again.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example.com/callback",
    "http://localhost:8080/callback",
    "http://app.example.com/callback",
    "http://127.0.0.1:9000/other",
])
async def test_redirect_mismatch_is_refused(redirect_uri: str) -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.get("/authorize", params=_authorize_params(pkce_pair()[1], redirect_uri))
    assert answer.status_code == 400
    assert answer.text == "INVALID_CLIENT: Invalid redirect URI"


async def test_loopback_port_may_change() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.get("/authorize", params=_authorize_params(pkce_pair()[1], "http://127.0.0.1:53117/callback"))
    assert answer.headers["location"].startswith("http://127.0.0.1:53117/callback?code=")


async def test_denied_consent_redirects_with_access_denied() -> None:
    simulator, _ = _simulator(consent="deny")
    async with _http(simulator) as http:
        query = _redirect_query(await http.get("/authorize", params=_authorize_params(pkce_pair()[1])))
    assert query == {"error": "access_denied", "state": "xyz-42"}


async def test_token_endpoint_takes_forms_only() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.post("/api/token", json={"grant_type": "refresh_token", "refresh_token": "x"})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


async def test_access_token_expiry_and_bad_tokens() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        tokens = await pkce_login(http)
        auth = {"Authorization": f"Bearer {tokens.access_token}"}
        assert (await http.get("/v1/me", headers=auth)).status_code == 200
        bad = await http.get("/v1/me", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json() == {"error": {"status": 401, "message": "Invalid access token"}}
        time.advance(3600)
        expired = await http.get("/v1/me", headers=auth)
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}


async def test_refresh_token_dies_six_months_after_the_original_grant() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        refresh = (await pkce_login(http)).refresh_token
        assert refresh is not None
        for _ in range(6):  # refreshing every month does not extend the lifetime
            time.advance(30 * DAY)
            answer = await _refresh(http, refresh)
            assert answer.status_code == 200
            refresh = answer.json()["refresh_token"]
        time.advance(3 * DAY)
        late = await _refresh(http, refresh)
    assert late.json() == {"error": "invalid_grant", "error_description": "Refresh token revoked"}


async def test_basic_auth_code_flow_keeps_its_refresh_token() -> None:
    simulator, _ = _simulator()
    basic = {"Authorization": "Basic " + base64.b64encode(f"{APP.client_id}:{APP.client_secret}".encode()).decode()}
    async with _http(simulator) as http:
        code = _redirect_query(await http.get("/authorize", params=_authorize_params(None)))["code"]
        token = await http.post("/api/token", headers=basic, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
        refresh = token.json()["refresh_token"]
        data = {"grant_type": "refresh_token", "refresh_token": refresh}
        first = await http.post("/api/token", headers=basic, data=data)
        second = await http.post("/api/token", headers=basic, data=data)
        wrong = await http.post("/api/token", data=data, headers={
            "Authorization": "Basic " + base64.b64encode(f"{APP.client_id}:nope".encode()).decode()})
    assert first.status_code == second.status_code == 200
    assert "refresh_token" not in first.json()
    assert wrong.json() == {"error": "invalid_client", "error_description": "Invalid client secret"}


async def test_codes_expire_and_unknown_clients_are_refused() -> None:
    simulator, time = _simulator()
    verifier, challenge = pkce_pair()
    async with _http(simulator) as http:
        code = _redirect_query(await http.get("/authorize", params=_authorize_params(challenge)))["code"]
        time.advance(601)
        late = await http.post("/api/token", data={"grant_type": "authorization_code", "code": code,
                                                   "redirect_uri": REDIRECT, "client_id": APP.client_id,
                                                   "code_verifier": verifier})
        stranger = await http.get("/authorize", params={**_authorize_params(challenge), "client_id": "nobody"})
    assert late.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}
    assert stranger.status_code == 400 and stranger.text == "INVALID_CLIENT: Invalid client"
