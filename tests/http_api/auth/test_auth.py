"""Accounts end to end through the API: register, verify, login, refresh
rotation and reuse detection, expiry on the MockClock, logout, sessions, the
password flows, and the brute-force and per-organization limits.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import trio.testing

from config import load
from engine.store import mail
from engine.store.database import Database
from http_api.context import ApiContext
from songtrack.api import build_api
from tests.http_api.conftest import PASSWORD, Client, MakeMember
from tests.http_api.paging import assert_paged

NEW = {"email": "ana@label.example", "password": "s3cret-enough", "name": "Ana",
       "organizationName": "Ana Records"}


async def _register(client: Client, **changes: str) -> dict[str, dict[str, str]]:
    response = await client.post("/v1/auth/register", json={**NEW, **changes})
    assert response.status_code == 201, await response.get_data()
    return await response.get_json()


async def _mailed_token(db: Database, to: str, pattern: str) -> str:
    emails = await mail.list_emails(db, to=to, limit=1)
    match = re.search(pattern, emails[0].body)
    assert match, emails[0].body
    return match.group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_then_use_the_tokens_and_verify_the_email(client: Client, db: Database) -> None:
    body = await _register(client)
    assert body["user"]["email"] == NEW["email"] and body["user"]["emailVerified"] is False
    assert body["user"]["role"] == "owner"
    profile = await client.get("/v1/auth/profile", headers=_bearer(body["tokens"]["accessToken"]))
    assert (await profile.get_json())["organization"]["name"] == "Ana Records"
    token = await _mailed_token(db, NEW["email"], r"/verify-email\?token=(\S+)")
    assert (await client.get(f"/v1/auth/verify-email/{token}")).status_code == 200
    again = await client.get(f"/v1/auth/verify-email/{token}")
    assert again.status_code == 400  # single use
    profile = await client.get("/v1/auth/profile", headers=_bearer(body["tokens"]["accessToken"]))
    assert (await profile.get_json())["user"]["emailVerified"] is True


async def test_register_refuses_a_taken_email_in_any_case_and_names_bad_fields(client: Client) -> None:
    await _register(client)
    taken = await client.post("/v1/auth/register", json={**NEW, "email": "ANA@label.example"})
    assert taken.status_code == 409
    assert (await taken.get_json())["error"]["details"] == [{"field": "email", "message": "already registered"}]
    bad = await client.post("/v1/auth/register", json={"email": "nope", "password": "short"})
    assert bad.status_code == 400
    fields = {d["field"] for d in (await bad.get_json())["error"]["details"]}
    assert fields == {"email", "password", "name", "organizationName"}


async def test_login_answers_the_same_for_a_wrong_password_and_an_unknown_email(client: Client) -> None:
    await _register(client)
    good = await client.post("/v1/auth/login", json={"email": NEW["email"], "password": NEW["password"]})
    assert good.status_code == 200 and (await good.get_json())["tokens"]["tokenType"] == "Bearer"
    wrong = await client.post("/v1/auth/login", json={"email": NEW["email"], "password": "x" * 12})
    unknown = await client.post("/v1/auth/login", json={"email": "who@x.example", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 401
    wrong_body, unknown_body = (await wrong.get_json())["error"], (await unknown.get_json())["error"]
    assert wrong_body.pop("requestId") != unknown_body.pop("requestId")  # each answer names its own request
    assert wrong_body == unknown_body  # and nothing else tells them apart


async def test_refresh_rotates_and_a_reused_token_ends_the_session(client: Client) -> None:
    tokens = (await _register(client))["tokens"]
    first = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert first.status_code == 200
    rotated = (await first.get_json())["tokens"]
    assert rotated["refreshToken"] != tokens["refreshToken"]
    reuse = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert reuse.status_code == 401 and "reused" in (await reuse.get_json())["error"]["message"]
    # The whole family is gone: the newest refresh token and every access token of the session.
    assert (await client.post("/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]})).status_code == 401
    assert (await client.get("/v1/auth/profile", headers=_bearer(rotated["accessToken"]))).status_code == 401


async def test_access_tokens_expire_after_fifteen_minutes_and_refresh_still_works(
    client: Client, mock_clock: trio.testing.MockClock
) -> None:
    tokens = (await _register(client))["tokens"]
    assert tokens["expiresIn"] == 900
    mock_clock.jump(899)
    assert (await client.get("/v1/auth/profile", headers=_bearer(tokens["accessToken"]))).status_code == 200
    mock_clock.jump(2)
    expired = await client.get("/v1/auth/profile", headers=_bearer(tokens["accessToken"]))
    assert expired.status_code == 401 and (await expired.get_json())["error"]["message"] == "access token expired"
    assert expired.headers["WWW-Authenticate"].startswith("Bearer")
    fresh = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    access = (await fresh.get_json())["tokens"]["accessToken"]
    assert (await client.get("/v1/auth/profile", headers=_bearer(access))).status_code == 200


async def test_logout_kills_the_session_and_logout_all_kills_every_one(client: Client) -> None:
    first = (await _register(client))["tokens"]
    login = await client.post("/v1/auth/login", json={"email": NEW["email"], "password": NEW["password"]})
    second = (await login.get_json())["tokens"]
    listed = await (await client.get("/v1/sessions", headers=_bearer(first["accessToken"]))).get_json()
    assert sorted(s["current"] for s in listed["sessions"]) == [False, True]
    assert (await client.post("/v1/auth/logout", headers=_bearer(first["accessToken"]))).status_code == 200
    assert (await client.get("/v1/auth/profile", headers=_bearer(first["accessToken"]))).status_code == 401
    assert (await client.get("/v1/auth/profile", headers=_bearer(second["accessToken"]))).status_code == 200
    third = (await (await client.post("/v1/auth/login", json={
        "email": NEW["email"], "password": NEW["password"]})).get_json())["tokens"]
    assert (await client.post("/v1/auth/logout-all", headers=_bearer(third["accessToken"]))).status_code == 200
    for tokens in (second, third):
        assert (await client.get("/v1/auth/profile", headers=_bearer(tokens["accessToken"]))).status_code == 401


async def test_sessions_are_paged(client: Client) -> None:
    first = (await _register(client))["tokens"]
    for _ in range(2):
        login = await client.post("/v1/auth/login", json={"email": NEW["email"], "password": NEW["password"]})
        assert login.status_code == 200
    listed = await assert_paged(client, "/v1/sessions", _bearer(first["accessToken"]), "sessions", total=3)
    assert [s["current"] for s in listed] == [False, False, True]  # most recently used first


async def test_a_session_can_be_revoked_by_its_owner_only(client: Client, make_member: MakeMember) -> None:
    ana, bob = await make_member(), await make_member()
    assert (await client.delete(f"/v1/sessions/{ana.session_id}", headers=bob.headers)).status_code == 404
    assert (await client.get("/v1/auth/profile", headers=ana.headers)).status_code == 200
    assert (await client.delete(f"/v1/sessions/{ana.session_id}", headers=ana.headers)).status_code == 204
    assert (await client.get("/v1/auth/profile", headers=ana.headers)).status_code == 401


async def test_forgot_and_reset_password_ends_old_sessions(client: Client, db: Database) -> None:
    old = (await _register(client))["tokens"]
    assert (await client.post("/v1/auth/forgot-password", json={"email": NEW["email"]})).status_code == 202
    assert (await client.post("/v1/auth/forgot-password", json={"email": "no@one.example"})).status_code == 202
    token = await _mailed_token(db, NEW["email"], r"/reset-password\?token=(\S+)")
    reset = await client.post("/v1/auth/reset-password", json={"token": token, "password": "brand-new-pass"})
    assert reset.status_code == 200
    assert (await client.get("/v1/auth/profile", headers=_bearer(old["accessToken"]))).status_code == 401
    login = await client.post("/v1/auth/login", json={"email": NEW["email"], "password": "brand-new-pass"})
    assert login.status_code == 200
    replay = await client.post("/v1/auth/reset-password", json={"token": token, "password": "another-pass"})
    assert replay.status_code == 400


async def test_profile_changes_need_the_current_password_for_email_and_password(
    client: Client, make_member: MakeMember
) -> None:
    me = await make_member()
    renamed = await client.patch("/v1/auth/profile", headers=me.headers, json={"name": "New Name"})
    assert (await renamed.get_json())["user"]["name"] == "New Name"
    no_proof = await client.patch("/v1/auth/profile", headers=me.headers, json={"newPassword": "another-1"})
    assert no_proof.status_code == 400
    assert (await no_proof.get_json())["error"]["details"][0]["field"] == "currentPassword"
    changed = await client.patch("/v1/auth/profile", headers=me.headers,
                                 json={"newPassword": "another-1", "currentPassword": PASSWORD})
    assert changed.status_code == 200
    assert (await client.post("/v1/auth/login", json={"email": me.email, "password": "another-1"})).status_code == 200


async def test_check_email(client: Client) -> None:
    await _register(client)
    taken = await client.post("/v1/auth/check-email", json={"email": NEW["email"]})
    free = await client.post("/v1/auth/check-email", json={"email": "free@label.example"})
    assert (await taken.get_json())["available"] is False and (await free.get_json())["available"] is True


@pytest.fixture
def strict_ctx(ctx: ApiContext) -> ApiContext:
    return dataclasses.replace(ctx, settings=load({}))  # the default limit: 5 attempts per 15 minutes


async def test_login_attempts_are_limited_per_email_and_recover_after_the_window(
    strict_ctx: ApiContext, mock_clock: trio.testing.MockClock
) -> None:
    client = build_api(strict_ctx).app.test_client()
    attempt = {"email": "target@label.example", "password": "guess-guess"}
    responses = [await client.post("/v1/auth/login", json=attempt) for _ in range(6)]
    assert [r.status_code for r in responses] == [401] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0", "0"]
    limited = await client.post("/v1/auth/login", json=attempt)
    body = await limited.get_json()
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    mock_clock.jump(int(limited.headers["Retry-After"]))
    assert (await client.post("/v1/auth/login", json=attempt)).status_code == 401


async def test_the_limits_are_shared_by_every_api_process(strict_ctx: ApiContext) -> None:
    # Two apps on one database stand for two API processes: attempts add up across them.
    one, two = build_api(strict_ctx).app.test_client(), build_api(dataclasses.replace(strict_ctx)).app.test_client()
    attempt = {"email": "target@label.example", "password": "guess-guess"}
    statuses = [(await (one if i % 2 else two).post("/v1/auth/login", json=attempt)).status_code
                for i in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_every_response_carries_the_organization_budget_and_429_past_it(
    client: Client, make_member: MakeMember
) -> None:
    me = await make_member()  # a new organization is on the free tier: 100 requests per hour
    first = await client.get("/v1/auth/profile", headers=me.headers)
    assert first.headers["X-RateLimit-Limit"] == "100"
    assert first.headers["X-RateLimit-Remaining"] == "99"
    for _ in range(99):
        await client.get("/v1/auth/profile", headers=me.headers)
    over = await client.get("/v1/auth/profile", headers=me.headers)
    assert over.status_code == 429
    assert over.headers["X-RateLimit-Remaining"] == "0" and int(over.headers["Retry-After"]) > 0
