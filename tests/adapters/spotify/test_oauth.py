"""``adapters.spotify.oauth`` against the simulator's accounts service (PROVIDERS.md B1).

Rules: the real ``oauth`` functions talk to ``/authorize`` and ``/api/token`` over HTTP through
``httpx.ASGITransport``; we follow the 302 by hand to read the code; simulated time moves only through
``ManualTime.advance`` and is the ``now`` we pass in; the simulator's state is never read.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.spotify.oauth import (
    AuthorizationDenied,
    TokenSet,
    authorize_url,
    code_from_callback,
    exchange_code,
    needs_refresh,
    pkce_pair,
    refresh,
)
from adapters.spotify.simulator import ClientApp, ManualTime, SimClock, SimulatorConfig, SpotifySimulator
from engine.provider import AuthExpiredError, FatalProviderError, ReauthRequiredError

APP = ClientApp()
REDIRECT = APP.redirect_uris[0]
BASE = "http://sim.test"
SCOPES = ("user-read-private", "user-library-read", "user-read-recently-played")
_RFC7636 = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def _simulator(**overrides: object) -> tuple[SpotifySimulator, ManualTime]:
    config = SimulatorConfig(seed=5, **overrides)  # type: ignore[arg-type]
    time = ManualTime()
    return SpotifySimulator(config, clock=SimClock(config.start, monotonic=time)), time


def _http(simulator: SpotifySimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(simulator), base_url=BASE)


async def _code(http: httpx.AsyncClient, challenge: str, state: str = "st4te") -> str:
    answer = await http.get(authorize_url(APP.client_id, REDIRECT, SCOPES, state, challenge, base=BASE))
    assert answer.status_code == 302
    return code_from_callback(answer.headers["location"], state)


async def _login(http: httpx.AsyncClient, simulator: SpotifySimulator) -> TokenSet:
    verifier, challenge = pkce_pair()
    return await exchange_code(http, code=await _code(http, challenge), verifier=verifier, redirect_uri=REDIRECT,
                               client_id=APP.client_id, token_url="/api/token", now=simulator.clock.now)


def test_pkce_pair_is_rfc7636_s256() -> None:
    verifier, challenge = pkce_pair()
    assert _RFC7636.fullmatch(verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == digest and len(challenge) == 43
    assert pkce_pair()[0] != verifier


def test_authorize_url_carries_every_parameter() -> None:
    url = authorize_url("cid", "http://127.0.0.1:8080/cb", ["a", "b"], "s", "c" * 43)
    assert url.startswith("https://accounts.spotify.com/authorize?")
    query = dict(httpx.URL(url).params)
    assert query == {"client_id": "cid", "response_type": "code", "redirect_uri": "http://127.0.0.1:8080/cb",
                     "state": "s", "scope": "a b", "code_challenge_method": "S256", "code_challenge": "c" * 43}


async def test_pkce_round_trip_yields_a_working_token_set() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        tokens = await _login(http, simulator)
        me = await http.get("/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200
    assert tokens.refresh_token and tokens.scope == " ".join(SCOPES)
    assert tokens.expires_at == simulator.clock.now() + 3600
    assert [r.path for r in simulator.log] == ["/authorize", "/api/token", "/v1/me"]


async def test_a_wrong_verifier_or_a_reused_code_needs_a_new_login() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        verifier, challenge = pkce_pair()
        code = await _code(http, challenge)
        with pytest.raises(ReauthRequiredError):
            await exchange_code(http, code=code, verifier=pkce_pair()[0], redirect_uri=REDIRECT,
                                client_id=APP.client_id, token_url="/api/token")
        with pytest.raises(ReauthRequiredError):  # codes are single-use, even after a failure
            await exchange_code(http, code=code, verifier=verifier, redirect_uri=REDIRECT,
                                client_id=APP.client_id, token_url="/api/token")


async def test_an_unknown_client_is_fatal_not_reauth() -> None:
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        with pytest.raises(FatalProviderError):
            await refresh(http, refresh_token="x", client_id="nobody", token_url="/api/token")


async def test_refresh_rotates_and_the_old_token_is_dead() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        first = await _login(http, simulator)
        time.advance(3000)
        second = await refresh(http, refresh_token=first.refresh_token, client_id=APP.client_id,
                               token_url="/api/token", now=simulator.clock.now)
        assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
        assert second.expires_at == simulator.clock.now() + 3600
        third = await refresh(http, refresh_token=second.refresh_token, client_id=APP.client_id,
                              token_url="/api/token")
        assert third.refresh_token not in (first.refresh_token, second.refresh_token)
        with pytest.raises(ReauthRequiredError) as caught:
            await refresh(http, refresh_token=first.refresh_token, client_id=APP.client_id, token_url="/api/token")
    assert isinstance(caught.value, AuthExpiredError) and caught.value.needs_reauth
    assert "revoked" in caught.value.message


async def test_refresh_keeps_the_old_refresh_token_when_none_comes_back() -> None:
    # A confidential (non-PKCE) grant does not rotate: we set it up by hand, with the Basic header.
    simulator, _ = _simulator()
    async with _http(simulator) as http:
        answer = await http.get("/authorize", params={"client_id": APP.client_id, "response_type": "code",
                                                      "redirect_uri": REDIRECT, "state": "s"})
        code = code_from_callback(answer.headers["location"], "s")
        basic = base64.b64encode(f"{APP.client_id}:{APP.client_secret}".encode()).decode()
        token = await http.post("/api/token", headers={"Authorization": f"Basic {basic}"},
                                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
        old = token.json()["refresh_token"]
        renewed = await refresh(http, refresh_token=old, client_id=APP.client_id, token_url="/api/token")
        again = await refresh(http, refresh_token=renewed.refresh_token, client_id=APP.client_id,
                              token_url="/api/token")
    assert renewed.refresh_token == old == again.refresh_token
    assert renewed.access_token != again.access_token


async def test_refresh_tokens_die_six_months_after_the_grant() -> None:
    simulator, time = _simulator()
    async with _http(simulator) as http:
        tokens = await _login(http, simulator)
        time.advance(timedelta(days=183).total_seconds())
        with pytest.raises(ReauthRequiredError):
            await refresh(http, refresh_token=tokens.refresh_token, client_id=APP.client_id, token_url="/api/token")


async def test_denied_consent_and_a_foreign_state_are_refused() -> None:
    simulator, _ = _simulator(consent="deny")
    async with _http(simulator) as http:
        with pytest.raises(AuthorizationDenied, match="access_denied"):
            await _code(http, pkce_pair()[1])
    with pytest.raises(AuthorizationDenied, match="state"):
        code_from_callback(f"{REDIRECT}?code=abc&state=theirs", "ours")


@given(expires_at=st.floats(0, 1e10), now=st.floats(0, 1e10), skew=st.floats(0, 600))
def test_needs_refresh_within_skew_of_expiry(expires_at: float, now: float, skew: float) -> None:
    tokens = TokenSet(access_token="a", refresh_token="r", expires_at=expires_at)
    assert needs_refresh(tokens, now, skew) == (now >= expires_at - skew)
    assert needs_refresh(tokens, expires_at - 59) and not needs_refresh(tokens, expires_at - 61)
