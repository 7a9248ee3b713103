"""The Graph call underneath every Meta client method: one request, classified, decoded, with its usage signals.

It owns the URL (``{base_url}/{version}/{path}``), the Bearer token, transport-error translation,
``classify`` on every response, lenient decoding and cursor paging. It never sleeps and never
retries: a failure is raised as an ``engine.provider`` error and the caller (the poller actor)
decides when to try again.

How usage signals come back: every public method returns an ``engine.provider.Result(data, signals)``. ``signals``
are the ``UsageSignal``s the response headers carried; for a call that read several pages we keep
the latest signal of each domain. A failed call raises, and the error carries them in ``.signals``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec

from adapters.meta.classify import classify, transport_errors
from adapters.meta.schemas import Page
from engine.provider import FatalProviderError, Result, RetryableError, UsageSignal

__all__ = ["GraphTransport", "TokenSource", "merge_signals"]

T = TypeVar("T")
TokenSource = str | Callable[[], Awaitable[str]]
Params = Mapping[str, str]
_MAX_PAGES = 10_000  # a server that never stops sending ``next`` is a bug, not data


def merge_signals(*groups: tuple[UsageSignal, ...]) -> tuple[UsageSignal, ...]:
    """The latest signal per domain across ``groups`` (oldest group first)."""
    latest: dict[str, UsageSignal] = {}
    for group in groups:
        for signal in group:
            latest[signal.domain] = signal
    return tuple(latest.values())


class GraphTransport:
    """One Graph API endpoint reached through an injected ``httpx.AsyncClient``; does no I/O until called.

    ``token`` is the access token, or an async callable returning the current one (asked once per
    request, so a refreshed token is picked up without rebuilding the client).
    """

    def __init__(self, http: httpx.AsyncClient, token: TokenSource, *,
                 base_url: str = "https://graph.facebook.com", version: str = "v25.0") -> None:
        self._http, self._token = http, token
        self.base_url, self.version = base_url.rstrip("/"), version

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    async def _headers(self) -> dict[str, str]:
        token = self._token if isinstance(self._token, str) else await self._token()
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, url: str, decoder: msgspec.json.Decoder[T], *,
                   params: Params | None = None, data: Params | None = None,
                   account_id: str | None = None) -> Result[T]:
        """One request to an absolute ``url``: classified, then decoded.

        Error handling: any ``ProviderError`` from ``classify``; a 2xx body that is not JSON (a
        truncated answer) is a ``RetryableError``; JSON of the wrong shape is a ``FatalProviderError``.
        """
        headers = await self._headers()
        with transport_errors():
            response = await self._http.request(method, url, params=params, data=data, headers=headers)
        signals = classify(response, account_id=account_id)
        try:
            return Result(decoder.decode(response.content), signals)
        except msgspec.ValidationError as exc:
            raise FatalProviderError(f"meta: unexpected shape from {method} {url}: {exc}", signals=signals) from exc
        except msgspec.DecodeError as exc:
            raise RetryableError(f"meta: undecodable body from {method} {url}: {exc}", signals=signals) from exc

    async def get(self, path: str, decoder: msgspec.json.Decoder[T], params: Params | None = None, *,
                  account_id: str | None = None) -> Result[T]:
        return await self.call("GET", self.url(path), decoder, params=params, account_id=account_id)

    async def post(self, path: str, decoder: msgspec.json.Decoder[T], data: Params, *,
                   account_id: str | None = None) -> Result[T]:
        return await self.call("POST", self.url(path), decoder, data=data, account_id=account_id)

    async def pages(self, path: str, decoder: msgspec.json.Decoder[Page[T]], params: Params, *,
                    account_id: str | None = None) -> Result[list[T]]:
        """Every item of a cursor-paged edge: we follow ``paging.next`` until it is absent (A2).

        Error handling: as ``call``, for any page (items of earlier pages are lost: the caller retries
        the whole read, since cursors must not be stored). A ``next`` URL on another host than
        ``base_url`` is a ``FatalProviderError``: we never send the token elsewhere.
        """
        items: list[T] = []
        result = await self.get(path, decoder, params, account_id=account_id)
        signals = result.signals
        for _ in range(_MAX_PAGES):
            items.extend(result.data.data)
            next_url = result.data.next_url
            if next_url is None:
                return Result(items, signals)
            self._check_host(next_url, signals)
            result = await self.call("GET", next_url, decoder, account_id=account_id)
            signals = merge_signals(signals, result.signals)
        raise FatalProviderError(f"meta: more than {_MAX_PAGES} pages from {path}", signals=signals)

    def _check_host(self, url: str, signals: tuple[UsageSignal, ...]) -> None:
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise FatalProviderError(f"meta: paging.next points at another host: {url[:200]}", signals=signals)
