"""The brute-force limit on the auth routes, at its default (5 per 15 minutes): only failures count, per
client IP and per email in separate buckets, on a sliding window; a success clears the email's failures.
The client's address is set per request (``scope_base``); the real server's is in test_proxies.py.
And the tier, so the hourly budget, that ``[api] default_tier`` gives a new organization.
"""

from __future__ import annotations

import dataclasses

import pytest
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from config import load
from http_api.context import ApiContext
from http_api.quotas import sliding_verdict
from songtrack.api import build_api
from tests.http_api.conftest import PASSWORD, Client, MakeMember

OFFICE = {"client": ("198.51.100.7", 40000)}


@pytest.fixture
def strict(ctx: ApiContext) -> Client:
    return build_api(dataclasses.replace(ctx, settings=load({}))).app.test_client()


async def _login(client: Client, email: str, password: str, where: dict[str, object] = OFFICE) -> int:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password}, scope_base=where)
    return response.status_code


async def test_a_team_logging_in_from_one_office_address_is_never_locked_out(
        strict: Client, make_member: MakeMember) -> None:
    team = [await make_member() for _ in range(4)]
    statuses = [await _login(strict, member.email, PASSWORD) for _ in range(5) for member in team]
    assert statuses == [200] * 20


async def test_a_success_clears_the_emails_failures(strict: Client, make_member: MakeMember) -> None:
    me = await make_member()
    before = [await _login(strict, me.email, "wrong-guess", {"client": (f"203.0.113.{i}", 1)}) for i in range(4)]
    assert await _login(strict, me.email, PASSWORD) == 200
    after = [await _login(strict, me.email, "wrong-guess", {"client": (f"203.0.113.{i}", 1)}) for i in range(5)]
    assert before == [401] * 4 and after == [401] * 5
    assert await _login(strict, me.email, PASSWORD, {"client": ("192.0.2.99", 1)}) == 429


async def test_an_address_spraying_many_emails_is_stopped_but_the_emails_are_not(
        strict: Client, make_member: MakeMember) -> None:
    victims = [await make_member() for _ in range(6)]
    attacker = {"client": ("203.0.113.66", 1)}
    statuses = [await _login(strict, victim.email, "wrong-guess", attacker) for victim in victims]
    assert statuses == [401] * 5 + [429]
    assert await _login(strict, victims[0].email, PASSWORD) == 200  # from elsewhere, the owner gets in


async def test_the_window_slides(strict: Client, make_member: MakeMember, mock_clock: trio.testing.MockClock) -> None:
    me = await make_member()
    early = [await _login(strict, me.email, "wrong-guess") for _ in range(3)]
    mock_clock.jump(600)
    late = [await _login(strict, me.email, "wrong-guess") for _ in range(3)]
    assert early == [401] * 3 and late == [401, 401, 429]
    mock_clock.jump(301)  # the first three have left the window; the two later ones have not
    assert [await _login(strict, me.email, "wrong-guess") for _ in range(4)] == [401, 401, 401, 429]


async def test_asking_for_reset_links_never_locks_anyone_out_of_logging_in(
        strict: Client, make_member: MakeMember) -> None:
    me = await make_member()
    asked = [(await strict.post("/v1/auth/forgot-password", json={"email": me.email}, scope_base=OFFICE)).status_code
             for _ in range(6)]
    assert asked == [202] * 5 + [429]
    assert await _login(strict, me.email, PASSWORD) == 200


@pytest.mark.parametrize(("environ", "tier", "limit"), [({}, "enterprise", "100000"),
                                                        ({"SONGTRACK_API_DEFAULT_TIER": "free"}, "free", "100")])
async def test_a_new_organization_starts_on_the_configured_tier(
        ctx: ApiContext, environ: dict[str, str], tier: str, limit: str) -> None:
    client = build_api(dataclasses.replace(ctx, settings=load(environ))).app.test_client()
    registered = await client.post("/v1/auth/register", json={
        "email": "ana@label.example", "password": "s3cret-enough", "name": "Ana", "organizationName": "Ana Records"})
    token = (await registered.get_json())["tokens"]["accessToken"]
    profile = await client.get("/v1/auth/profile", headers={"Authorization": f"Bearer {token}"})
    assert (await profile.get_json())["organization"]["tier"] == tier
    assert profile.headers["X-RateLimit-Limit"] == limit


@given(st.lists(st.tuples(st.integers(0, 898), st.integers(1, 4)), max_size=12), st.integers(1, 10))
def test_the_sliding_reset_is_when_the_count_first_drops_below_the_limit(
        hits: list[tuple[int, int]], limit: int) -> None:
    now, window = 10_000.0, 900
    buckets = sorted((now - age - 1, count) for age, count in hits)  # every bucket started inside the window
    verdict = sliding_verdict(buckets, limit=limit, window=window, now=now)

    def count_at(t: float) -> int:
        return sum(count for start, count in buckets if start > t - window)

    assert verdict.count == count_at(now)
    if verdict.count >= limit:
        assert count_at(verdict.reset) < limit <= count_at(verdict.reset - 1)
