"""The SSRF rules for webhook targets: which URLs and which addresses we may connect to. Pure: resolving
the name and connecting to the checked address is the dispatcher's transport
(``actors.webhook_dispatcher.GuardedTransport``).

We refuse every address that is not globally routable unicast: private (RFC 1918, fc00::/7), loopback,
link-local (169.254/16 with the cloud metadata services, fe80::/10), CGNAT (100.64/10), multicast,
reserved and unspecified ones, and IPv6 forms that embed such an IPv4 address (::ffff:a.b.c.d, NAT64
64:ff9b::/96, 6to4, Teredo). An allowlist of subnets from the config (``[webhooks] allow_subnets``) lets an
on-prem install deliver inside its own network. Only ``http`` and ``https`` URLs are accepted.

A host is judged as the resolver would read it (``host_address``): ``2130706433``, ``0x7f000001``,
``0177.0.0.1`` and ``127.1`` are all 127.0.0.1 to ``inet_aton`` and to browsers (WHATWG's IPv4 parser),
a trailing dot changes nothing, and ``localhost`` names are loopback (RFC 6761), so the URL check at save
time refuses what the guard would refuse when it connects.
Error tree: ``UnsafeTarget`` (a refused URL or address).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

__all__ = ["Address", "Network", "UnsafeTarget", "check_address", "check_url", "host_address", "parse_subnets"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
# One IPv4 part as WHATWG's parser reads it: hex after 0x, octal after a leading 0, else decimal.
_V4_PART = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]*)|(?P<oct>0[0-7]*)|(?P<dec>[1-9][0-9]*)")
# A host whose last label is a number is an IPv4 address or no valid host at all (WHATWG "ends in a number").
_ENDS_IN_NUMBER = re.compile(r"(?:^|\.)(?:[0-9]+|0[xX][0-9a-fA-F]*)$")


class UnsafeTarget(ValueError):
    """A webhook URL or resolved address we must not connect to; the message says why."""


def parse_subnets(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The allowlist from CIDR strings (``10.0.0.0/8``, ``fd00::/8``); raises ``ValueError``."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def _public(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return _public(inner)
    # is_global excludes private, loopback, link-local, CGNAT (100.64/10), reserved and unspecified
    # ranges, per IANA's special-purpose registries; multicast can be "global" and is refused on its own.
    return ip.is_global and not ip.is_multicast


def check_address(ip: Address | str, allow: Sequence[Network] = ()) -> Address:
    """``ip`` if we may connect to it; raises ``UnsafeTarget`` otherwise."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if any(address.version == net.version and address in net for net in allow):
        return address
    if not _public(address):
        raise UnsafeTarget(f"{address} is not a public address (add its subnet to webhooks.allow_subnets)")
    return address


def check_url(url: str, allow: Sequence[Network] = ()) -> str:
    """The URL's host if the URL may be a target: http(s), a host, no credentials, and when the host names
    an address without a DNS lookup (``host_address``), an allowed one. Other host names are checked when
    we connect, on what they resolve to."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL may not carry credentials")
    address = host_address(parts.hostname)
    if address is not None:
        check_address(address, allow)
    return parts.hostname


def host_address(host: str) -> Address | None:
    """The address ``host`` stands for without asking DNS, or None for a name to resolve.

    IPv6 and dotted IPv4 literals, every numeric IPv4 form a resolver accepts (one to four parts, each
    decimal, octal or hex), with or without a trailing dot, and ``localhost`` names (always loopback, RFC
    6761). Raises ``UnsafeTarget`` for a host that ends in a number but is no address (``1.2.3.256``):
    browsers refuse those, and no public name ends in a numeric label.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if name.lower() == "localhost" or name.lower().endswith(".localhost"):
        return _LOOPBACK
    if not _ENDS_IN_NUMBER.search(name):
        return None
    number = _ipv4_number(name.split("."))
    if number is None:
        raise UnsafeTarget(f"{host} is neither a host name nor an IPv4 address")
    return ipaddress.IPv4Address(number)


def _ipv4_number(parts: list[str]) -> int | None:
    """WHATWG's IPv4 number parser: up to four parts, the last one filling the bytes that remain."""
    values = [value for value in map(_part_value, parts) if value is not None]
    if len(values) != len(parts) or not 1 <= len(values) <= 4:
        return None
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):
        return None
    return sum(value << (8 * (3 - index)) for index, value in enumerate(head)) + last


def _part_value(part: str) -> int | None:
    match = _V4_PART.fullmatch(part)
    if match is None:
        return None
    if match["hex"] is not None:
        return int(match["hex"] or "0", 16)
    return int(match["oct"], 8) if match["oct"] else int(match["dec"])
