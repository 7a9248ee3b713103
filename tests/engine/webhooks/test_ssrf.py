"""The SSRF rules: only public unicast addresses, unless inside the allowlist; only http(s) URLs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.webhooks.ssrf import UnsafeTarget, check_address, check_url, parse_subnets

REFUSED = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
           "100.127.255.254", "0.0.0.0", "224.0.0.251", "255.255.255.255", "240.0.0.1", "198.18.0.1",
           "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"]
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e"]


@pytest.mark.parametrize("ip", REFUSED)
def test_non_public_addresses_are_refused(ip: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_address(ip)


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_pass(ip: str) -> None:
    assert str(check_address(ip)) == str(ipaddress.ip_address(ip))


@given(st.ip_addresses(v=4, network="10.0.0.0/8") | st.ip_addresses(v=4, network="127.0.0.0/8")
       | st.ip_addresses(v=4, network="169.254.0.0/16") | st.ip_addresses(v=4, network="100.64.0.0/10")
       | st.ip_addresses(v=6, network="fc00::/7") | st.ip_addresses(v=6, network="fe80::/10"))
def test_private_ranges_are_refused_and_the_allowlist_lets_them_through(ip: ipaddress.IPv4Address) -> None:
    with pytest.raises(UnsafeTarget):
        check_address(ip)
    allow = parse_subnets(["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "fc00::/7",
                           "fe80::/10"])
    assert check_address(ip, allow) == ip


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_ipv6_is_judged_like_its_ipv4(ip: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    try:
        check_address(ip)
    except UnsafeTarget:
        with pytest.raises(UnsafeTarget):
            check_address(mapped)
    else:
        check_address(mapped)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "example.com/hook",
                                 "http://user:pw@example.com/", "http:///nohost", "http://127.0.0.1/",
                                 "http://[::1]/", "http://10.0.0.1:8080/", "https://169.254.169.254/"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url(url)


def test_hostnames_pass_the_url_check_and_are_checked_at_connect_time() -> None:
    assert check_url("https://hooks.example.com/in") == "hooks.example.com"
    assert check_url("http://127.0.0.1:9000/", parse_subnets(["127.0.0.0/8"])) == "127.0.0.1"
