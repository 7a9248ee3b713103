"""Listening on a port someone else holds: one line naming it, not a traceback.

Binding happens deep inside hypercorn, under nurseries, so the ``OSError`` arrives grouped and says only
"[Errno 98] Address already in use". ``naming_port`` wraps the place that binds and turns that into
``PortInUse``, which ``songtrack.cli`` prints as is (exit 1).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PortInUse", "naming_port"]


class PortInUse(Exception):
    """A port we were told to listen on is already taken; the message is the whole story."""


@contextmanager
def naming_port(what: str, host: str, port: int, flag: str) -> Iterator[None]:
    """Raise ``PortInUse`` naming ``what`` (the API, a simulator), ``host:port`` and the ``flag`` that
    picks another port, if binding inside the block finds the address in use. Other errors pass."""
    try:
        yield
    except (OSError, BaseExceptionGroup) as exc:
        if not _in_use(exc):
            raise
        raise PortInUse(f"{what}: port {port} on {host} is already in use (is another songtrack running?"
                        f" {flag} picks another port)") from None


def _in_use(exc: BaseException) -> bool:
    """Whether ``exc`` is, or (grouped at any depth) holds, an "address already in use"."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(_address_in_use) is not None  # subgroup descends into nested groups itself
    return _address_in_use(exc)


def _address_in_use(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE
