"""The SSRF rules for webhook targets: which URLs and which addresses we may connect to. Pure: resolving
the name and connecting to the checked address is the dispatcher's transport
(``actors.webhook_dispatcher.GuardedTransport``).

We refuse every address that is not globally routable unicast: private (RFC 1918, fc00::/7), loopback,
link-local (169.254/16 with the cloud metadata services, fe80::/10), CGNAT (100.64/10), multicast,
reserved and unspecified ones, and IPv6 forms that embed such an IPv4 address (::ffff:a.b.c.d, NAT64
64:ff9b::/96, 6to4, Teredo). An allowlist of subnets from the config (``[webhooks] allow_subnets``) lets an
on-prem install deliver inside its own network. Only ``http`` and ``https`` URLs are accepted.
Error tree: ``UnsafeTarget`` (a refused URL or address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

__all__ = ["Address", "Network", "UnsafeTarget", "check_address", "check_url", "parse_subnets"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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
    """The URL's host if the URL may be a target: http(s), a host, no credentials, and when the host is a
    literal IP, an allowed one. Hostnames are checked when we connect, on what they resolve to."""
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
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return parts.hostname
    check_address(literal, allow)
    return parts.hostname
