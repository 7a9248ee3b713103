"""Facebook Login against the Meta simulator: dialog → code → token → long-lived token → debug_token.

Rules: the dialog is followed as a browser would (read the 302's Location); codes and tokens expire on
a ``ManualClock`` the test moves.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from adapters.meta.simulator import MetaSimulator
from adapters.meta.simulator.config import account_token
from tests.adapters.meta.sim import client as sim_client
from tests.adapters.meta.sim import make

REDIRECT = "https://app.songtrack.example/oauth/meta/callback"
APP = {"client_id": "1234567890", "client_secret": "simulator-secret"}


def client(sim: MetaSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com")


async def consent(http: httpx.AsyncClient, state: str = "csrf-1") -> dict[str, list[str]]:
    response = await http.get(
        "/v25.0/dialog/oauth",
        params={
            "client_id": APP["client_id"],
            "redirect_uri": REDIRECT,
            "state": state,
            "scope": "ads_read,ads_management",
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def exchange(http: httpx.AsyncClient, code: str, redirect_uri: str = REDIRECT) -> httpx.Response:
    return await http.get("/v25.0/oauth/access_token", params={**APP, "redirect_uri": redirect_uri, "code": code})


async def test_round_trip_from_dialog_to_debug_token() -> None:
    sim, _ = make()
    async with client(sim) as http:
        query = await consent(http)
        assert query["state"] == ["csrf-1"]
        short = (await exchange(http, query["code"][0])).json()
        assert short["token_type"] == "bearer" and short["expires_in"] == 7200
        long = (
            await http.get(
                "/v25.0/oauth/access_token",
                params={**APP, "grant_type": "fb_exchange_token", "fb_exchange_token": short["access_token"]},
            )
        ).json()
        assert long["token_type"] == "bearer" and long["expires_in"] == 5_183_944
        info = (
            await http.get(
                "/debug_token",
                params={"input_token": long["access_token"], "access_token": "1234567890|simulator-secret"},
            )
        ).json()
        accounts = await http.get("/v25.0/me/adaccounts", params={"access_token": long["access_token"]})
    data = info["data"]
    assert data["is_valid"] is True and data["type"] == "USER" and data["app_id"] == "1234567890"
    assert data["scopes"] == ["ads_read", "ads_management"]
    assert data["expires_at"] > data["issued_at"] and data["data_access_expires_at"] > data["issued_at"]
    assert accounts.status_code == 200


async def test_redirect_uri_must_match_the_dialog() -> None:
    sim, _ = make()
    async with client(sim) as http:
        code = (await consent(http))["code"][0]
        response = await exchange(http, code, redirect_uri=REDIRECT + "/other")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert "redirect_uri" in response.json()["error"]["message"]


async def test_a_code_is_single_use_and_expires() -> None:
    sim, clock = make()
    async with client(sim) as http:
        code = (await consent(http))["code"][0]
        assert (await exchange(http, code)).status_code == 200
        reused = await exchange(http, code)
        late_code = (await consent(http, state="csrf-2"))["code"][0]
        clock.advance(601)
        late = await exchange(http, late_code)
    assert reused.status_code == 400 and "used" in reused.json()["error"]["message"]
    assert late.status_code == 400 and "expired" in late.json()["error"]["message"]


async def test_denied_consent_redirects_with_access_denied() -> None:
    sim, _ = make(deny_consent=True)
    async with client(sim) as http:
        query = await consent(http, state="csrf-9")
    assert query["error"] == ["access_denied"] and query["error_reason"] == ["user_denied"]
    assert query["state"] == ["csrf-9"] and "code" not in query


async def test_an_expired_token_gives_190_463_and_cannot_be_exchanged() -> None:
    sim, clock = make()
    async with client(sim) as http:
        token = (await exchange(http, (await consent(http))["code"][0])).json()["access_token"]
        clock.advance(7201)
        expired = await http.get("/v25.0/me/adaccounts", headers={"Authorization": f"Bearer {token}"})
        exchanged = await http.get(
            "/v25.0/oauth/access_token", params={**APP, "grant_type": "fb_exchange_token", "fb_exchange_token": token}
        )
        info = (
            await http.get("/debug_token", params={"input_token": token, "access_token": "1234567890|simulator-secret"})
        ).json()
    assert expired.status_code == 400
    assert (expired.json()["error"]["code"], expired.json()["error"]["error_subcode"]) == (190, 463)
    assert "Session has expired" in expired.headers["www-authenticate"]
    assert exchanged.json()["error"]["error_subcode"] == 463
    assert info["data"]["is_valid"] is False


async def test_revoking_all_permissions_kills_every_token_of_the_user() -> None:
    sim, _ = make()
    async with client(sim) as http:
        first = (await exchange(http, (await consent(http))["code"][0])).json()["access_token"]
        second = (await exchange(http, (await consent(http, "csrf-2"))["code"][0])).json()["access_token"]
        auth = {"Authorization": f"Bearer {first}"}
        granted = (await http.get(f"/v25.0/{sim.oauth.user_id}/permissions", headers=auth)).json()
        refused = await http.put("/v25.0/me/permissions", headers=auth)
        revoked = await http.delete("/v25.0/me/permissions", headers=auth)
        after = [await http.get("/v25.0/me/adaccounts", headers={"Authorization": f"Bearer {t}"})
                 for t in (first, second, "SIMULATOR_TOKEN")]  # the pre-issued token is the same user's
    assert {p["status"] for p in granted["data"]} == {"granted"} and granted["data"]
    assert (revoked.status_code, revoked.json()) == (200, {"success": True})
    assert [(r.status_code, r.json()["error"]["code"], r.json()["error"]["error_subcode"]) for r in after] == [
        (400, 190, 467)] * 3
    assert refused.json()["error"]["code"] == 100


async def test_an_account_token_lists_its_own_ad_account_alone() -> None:
    sim, _ = make(accounts=3, account_tokens=True)
    first, second, _third = sim.world.accounts
    async with sim_client(sim, account_token(second)) as own, sim_client(sim) as everyone:
        listed = (await own.get("/v25.0/me/adaccounts", params={"fields": "id"})).json()["data"]
        assert listed == [{"id": f"act_{second}"}]
        assert len((await everyone.get("/v25.0/me/adaccounts")).json()["data"]) == 3
        assert (await own.get(f"/v25.0/act_{first}/campaigns")).status_code == 200  # a token reads any account


async def test_account_tokens_are_off_by_default() -> None:
    sim, _ = make(accounts=2)
    async with sim_client(sim, account_token(next(iter(sim.world.accounts)))) as http:
        assert (await http.get("/v25.0/me/adaccounts")).status_code == 400
