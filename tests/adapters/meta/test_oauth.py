"""adapters.meta.oauth: the signed login state (hypothesis) and the token calls against the Meta simulator.

Rules: state tests are pure, with ``now`` passed in; token tests run the whole dialog → code → token →
long-lived → debug_token flow over ``httpx.ASGITransport`` on a ``ManualClock``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.meta.client import MetaClient
from adapters.meta.oauth import InvalidState, MetaOAuth, StateSigner, login_url
from adapters.meta.simulator import MetaSimulator
from engine.provider import AuthExpiredError, FatalProviderError
from tests.adapters.meta.sim import make

KEY = b"k" * 32
NOW = 1_788_264_000.0
BASE = "https://graph.facebook.com"
REDIRECT = "https://songtrack.example/oauth/meta/callback"


@given(st.text(min_size=1, max_size=40))
def test_verify_returns_the_signed_user_id(user_id: str) -> None:
    signer = StateSigner(KEY)
    assert signer.verify(signer.sign(user_id, now=NOW), now=NOW + 599) == user_id


@given(st.text(min_size=1, max_size=20), st.data())
def test_any_tampered_byte_fails(user_id: str, data: st.DataObject) -> None:
    signer = StateSigner(KEY)
    state = bytearray(signer.sign(user_id, now=NOW).encode("ascii"))
    index = data.draw(st.integers(0, len(state) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != state[index]))
    state[index] = replacement
    with pytest.raises(InvalidState):
        signer.verify(state.decode("latin-1"), now=NOW)


def test_expired_foreign_and_malformed_states_fail() -> None:
    signer = StateSigner(KEY)
    state = signer.sign("user-1", now=NOW, ttl_s=600)
    with pytest.raises(InvalidState, match="expired"):
        signer.verify(state, now=NOW + 600)
    with pytest.raises(InvalidState, match="signature"):
        StateSigner(b"o" * 32).verify(state, now=NOW)
    for junk in ("", "a.b.c", "ü.1.2.3", state + ".x"):
        with pytest.raises(InvalidState):
            signer.verify(junk, now=NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        StateSigner(b"short")


def test_login_url_carries_app_redirect_state_and_scopes() -> None:
    url = login_url("123", REDIRECT, "s.t.a.te", scopes=("ads_read", "ads_management"))
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("www.facebook.com", "/v25.0/dialog/oauth")
    query = parse_qs(parts.query)
    assert query == {"client_id": ["123"], "redirect_uri": [REDIRECT], "state": ["s.t.a.te"],
                     "scope": ["ads_read,ads_management"], "response_type": ["code"]}


async def login(sim: MetaSimulator, http: httpx.AsyncClient, signer: StateSigner) -> tuple[str, str]:
    """Walk the simulator's dialog (it approves at once); return the code and the echoed user id."""
    url = login_url(sim.config.app_id, REDIRECT, signer.sign("user-7", now=NOW), dialog_base=BASE)
    answer = await http.get(url)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return query["code"][0], signer.verify(query["state"][0], now=NOW)


async def test_code_exchange_long_lived_and_debug_token() -> None:
    sim, clock = make()
    signer = StateSigner(KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        code, user = await login(sim, http, signer)
        oauth = MetaOAuth(http, sim.config.app_id, sim.config.app_secret, base_url=BASE)
        short = await oauth.exchange_code(code, REDIRECT)
        with pytest.raises(FatalProviderError, match="used"):
            await oauth.exchange_code(code, REDIRECT)
        long = await oauth.exchange_long_lived(short.data.access_token)
        info = await oauth.debug_token(long.data.access_token)
        accounts = await MetaClient(http, long.data.access_token, base_url=BASE).ad_accounts()
        clock.advance(sim.config.short_token_ttl_s + 1)
        with pytest.raises(AuthExpiredError):
            await oauth.exchange_long_lived(short.data.access_token)
        with pytest.raises(AuthExpiredError, match="190/463"):
            await MetaClient(http, short.data.access_token, base_url=BASE).ad_accounts()
    assert user == "user-7"
    assert short.data.expires_in == sim.config.short_token_ttl_s
    assert long.data.expires_in == sim.config.long_token_ttl_s and long.data.token_type == "bearer"
    assert info.data.is_valid and info.data.user_id == sim.oauth.user_id
    assert {"ads_read", "ads_management"} <= set(info.data.scopes)
    assert len(accounts.data) == 6


async def test_debug_token_of_an_unknown_token_is_not_valid() -> None:
    sim, _ = make()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        oauth = MetaOAuth(http, sim.config.app_id, sim.config.app_secret, base_url=BASE)
        info = await oauth.debug_token("EAAB-unknown")
        with pytest.raises(FatalProviderError):
            await oauth.exchange_code("AQ-not-a-code", REDIRECT)
    assert not info.data.is_valid and info.data.error is not None and info.data.error.code == 190
