"""Behind a reverse proxy: X-Forwarded-For names the client (for the auth limiter, the sessions list and
the access log) only when the peer is in ``[server] trusted_proxies``. The real server on 127.0.0.1 is
the peer here, so trusting 127.0.0.1/32 makes these tests' requests come "through a proxy".
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config import load
from http_api.forwarded import client_address
from tests.helpers.live_api import LiveApi, serve_in_thread

FORGED = "203.0.113.5"


@pytest.fixture(params=["untrusted", "trusted"])
def live_api(request: pytest.FixtureRequest, property_dsn: str, tmp_path: Path) -> Iterator[LiveApi]:
    proxies = "127.0.0.1/32" if request.param == "trusted" else ""
    with serve_in_thread(property_dsn, load({"SONGTRACK_SERVER_TRUSTED_PROXIES": proxies}), tmp_path) as live:
        yield live


def _trusted(request: pytest.FixtureRequest) -> bool:
    return bool(request.node.callspec.params["live_api"] == "trusted")


def _login(client: httpx.Client, email: str, password: str, forwarded_for: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password},
                       headers={"X-Forwarded-For": forwarded_for})


def test_the_forwarded_address_is_the_sessions_address_only_from_a_trusted_proxy(
        live_api: LiveApi, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> None:
    with httpx.Client(base_url=live_api.base_url, timeout=10) as client, caplog.at_level(logging.INFO):
        tokens = _login(client, "owner@fuzz.example", "fuzz-password", f"10.9.9.9, {FORGED}").json()["tokens"]
        listed = client.get("/v1/sessions", headers={"Authorization": f"Bearer {tokens['accessToken']}"}).json()
    current = next(session for session in listed["sessions"] if session["current"])
    expected = FORGED if _trusted(request) else "127.0.0.1"
    assert current["ip"] == expected
    logged = [record for record in caplog.records if record.name == "songtrack.access"]
    assert [record.client for record in logged if record.path == "/v1/auth/login"] == [expected]


def test_a_forged_address_does_not_escape_the_auth_limit_unless_a_proxy_vouches_for_it(
        live_api: LiveApi, request: pytest.FixtureRequest) -> None:
    # Six wrong passwords for six emails, each claiming another address: one client's budget, or six.
    with httpx.Client(base_url=live_api.base_url, timeout=10) as client:
        statuses = [_login(client, f"nobody{i}@label.example", "wrong-guess", f"198.51.100.{i}").status_code
                    for i in range(6)]
    assert statuses == ([401] * 6 if _trusted(request) else [401] * 5 + [429])


TRUSTED = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "127.0.0.1/32")]


@pytest.mark.parametrize(("peer", "header", "client"), [
    ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
    ("127.0.0.1", "1.1.1.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),  # the client's own claim (1.1.1.1) is ignored
    ("198.51.100.1", "203.0.113.5", "198.51.100.1"),  # not a trusted peer: the header means nothing
    ("127.0.0.1", "", "127.0.0.1"),
    ("127.0.0.1", "garbage", "127.0.0.1"),
    ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
    ("127.0.0.1", "203.0.113.5:8080", "203.0.113.5"),
    ("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # every hop trusted: the left-most one is what we know
])
def test_the_client_is_the_first_untrusted_address_from_the_right(peer: str, header: str, client: str) -> None:
    assert client_address(peer, header, TRUSTED) == client
