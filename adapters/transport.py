"""What every adapter does with a failed connection: httpx timeouts and network
failures become the engine's ``RetryableError``. Shared here, above the
provider folders, so both adapters say it the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from engine.provider import RetryableError

__all__ = ["network_errors"]


@contextmanager
def network_errors(provider: str) -> Iterator[None]:
    """Turn httpx timeouts and network failures inside the block into ``RetryableError``.

    Other httpx errors (a bad URL, a local protocol misuse) are our bugs and propagate unchanged.
    """
    try:
        yield
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise RetryableError(f"{provider}: {type(exc).__name__}: {exc}") from exc
