"""The SSRF rules: only public unicast addresses, unless inside the allowlist; only http(s) URLs."""

from __future__ import annotations

import ipaddress
import socket

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


def _ipv4_text(number: int, data: st.DataObject) -> str:
    """``number`` written as a resolver reads it: 1 to 4 parts, each decimal, octal or hex, maybe a trailing dot."""
    count = data.draw(st.integers(1, 4))
    width = 4 - count + 1  # bytes the last part holds
    head = [(number >> (8 * (3 - index))) & 0xFF for index in range(count - 1)]
    values = [*head, number & (256**width - 1)]
    radixes = data.draw(st.lists(st.sampled_from(["dec", "oct", "hex", "HEX"]), min_size=count, max_size=count))
    spelled = {"dec": str, "oct": lambda v: f"0{v:o}", "hex": lambda v: f"0x{v:x}", "HEX": lambda v: f"0X{v:X}"}
    text = ".".join(spelled[radix](value) for radix, value in zip(radixes, values, strict=True))
    return text + data.draw(st.sampled_from(["", "."]))


FORBIDDEN_V4 = (st.ip_addresses(v=4, network="127.0.0.0/8") | st.ip_addresses(v=4, network="10.0.0.0/8")
                | st.ip_addresses(v=4, network="169.254.0.0/16") | st.ip_addresses(v=4, network="0.0.0.0/8")
                | st.ip_addresses(v=4, network="192.168.0.0/16"))


@given(FORBIDDEN_V4, st.data())
def test_any_spelling_of_a_forbidden_ipv4_address_is_refused(ip: ipaddress.IPv4Address, data: st.DataObject) -> None:
    text = _ipv4_text(int(ip), data)
    assert socket.inet_aton(text.rstrip(".")) == ip.packed  # the resolver reads the same address
    with pytest.raises(UnsafeTarget):
        check_url(f"http://{text}:8080/hook")
    assert check_url(f"http://{text}/", parse_subnets([f"{ip}/32"])) == text.lower()


@given(FORBIDDEN_V4)
def test_forbidden_ipv6_spellings_of_ipv4_addresses_are_refused(ip: ipaddress.IPv4Address) -> None:
    for text in (f"::ffff:{ip}", f"::ffff:{int(ip) >> 16:x}:{int(ip) & 0xFFFF:x}", f"64:ff9b::{ip}",
                 ipaddress.IPv6Address(f"::ffff:{ip}").exploded):
        with pytest.raises(UnsafeTarget):
            check_url(f"https://[{text}]/")


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
                                 "http://0/", "http://127.0.0.1./", "http://localhost/", "http://LocalHost.:3000/",
                                 "http://api.localhost/", "http://1.2.3.256/", "http://0x7f.1/"])
def test_numeric_loopback_and_localhost_forms_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url(url)


def test_localhost_names_pass_when_loopback_is_allowed_and_names_with_digits_stay_names() -> None:
    assert check_url("http://localhost:9000/", parse_subnets(["127.0.0.0/8"])) == "localhost"
    assert check_url("https://8.8.8.8./") == "8.8.8.8."
    for url in ("https://hooks1.example.com/", "https://1e100.net/", "https://123.example/"):
        check_url(url)
