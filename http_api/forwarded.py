"""The client's address behind a reverse proxy. ``X-Forwarded-For`` counts only when the peer is one of
``[server] trusted_proxies``; from any other peer it is ignored, so a client cannot pick the address our
limiters and logs see. It owns that one decision; routes just read ``request.remote_addr``.

Each proxy appends the address it received from, so we read the header from the right, stepping over
trusted proxies, and stop at the first address that is not one: everything to its left was written by
the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

__all__ = ["Network", "client_address", "forwarded_client", "from_this_machine"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def forwarded_client(app: ASGIFramework, trusted: Sequence[Network]) -> ASGIFramework:
    """``app``, whose HTTP and WebSocket scopes carry the forwarded client's address as ``client``."""
    if not trusted:
        return app

    # A plain function handing back the app's awaitable: no frame of ours held for a WebSocket's whole life.
    def wrapped(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Awaitable[None]:
        if scope["type"] != "lifespan" and scope.get("client"):
            peer, port = scope["client"]  # type: ignore[misc]
            forwarded = [value for name, value in scope["headers"] if name.lower() == b"x-forwarded-for"]
            client = client_address(peer, b",".join(forwarded).decode("latin-1"), trusted)
            if client != peer:
                # In place, not a copy: hypercorn's access log reads this very dict.
                scope["client"] = (client, port)
        return app(scope, receive, send)

    return wrapped


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client's address: ``peer``, or while that is a trusted proxy, the address it says it received
    from (``X-Forwarded-For``, right to left). An entry that is no address ends the walk."""
    client = peer
    for entry in reversed(forwarded_for.split(",") if forwarded_for else []):
        if not _trusted(client, trusted):
            break
        address = _address(entry.strip())
        if address is None:
            break
        client = address
    return client


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an IP peer (a Unix socket): nothing to trust
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def _address(entry: str) -> str | None:
    """An address from an X-Forwarded-For entry (``1.2.3.4``, ``2001:db8::1``, or ``[2001:db8::1]:80``)."""
    host = entry[1:].partition("]")[0] if entry.startswith("[") else entry
    if host.count(":") == 1:  # an IPv4 address with a port, as some proxies write it
        host = host.partition(":")[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def from_this_machine(address: str | None) -> bool:
    """Whether the peer is this machine.

    Quart reports ``<local>`` when the server gives no peer address: a Unix socket, or the test client.
    Behind a reverse proxy on the same host every request looks local: callers that care also refuse
    requests that carry a proxy's headers (``/metrics``), or must not face the internet (the sandbox).
    """
    if address == "<local>":
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None  # ::ffff:127.0.0.1
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)
