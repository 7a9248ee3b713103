"""The seam between the engine and any provider: what a provider call returns (``Result``), the ways it can
fail, and the neutral rate signals that every response (errors included) carries. Adapters produce these;
the pacing math in ``engine.pacing`` and the actors consume them. Nothing here knows Meta or Spotify;
what an account actor asks of a provider is ``engine.providers``.

Error tree::

    ProviderError
    ├── RetryableError(retry_after)      a 5xx, a timeout, a transient code: try again soon
    │   └── RequestTooLargeError         too much asked at once: ask again for less (split the range)
    ├── RateLimitedError(domain, reset_after)   a limit was hit: that domain waits until reset
    ├── AuthExpiredError                 the token is dead: refresh it, or ask the user to re-connect
    │   └── ReauthRequiredError          the grant itself is dead: only the user re-connecting helps
    └── FatalProviderError               a bad request or a permission: retrying cannot help
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "AuthExpiredError",
    "FatalProviderError",
    "ProviderError",
    "RateLimitedError",
    "ReauthRequiredError",
    "RequestTooLargeError",
    "Result",
    "RetryableError",
    "UsageSignal",
]

T = TypeVar("T")


class UsageSignal(msgspec.Struct, frozen=True, kw_only=True):
    """How much of one rate domain's allowance is used, as a provider reported it.

    ``domain`` names the budget the figure belongs to, e.g. ``meta:app``,
    ``meta:act_123:ads_insights`` or ``spotify:app``: calls in one domain share it.
    ``utilization`` is a percentage (0 to 100, and it can exceed 100). ``regain_after``
    is how many seconds the provider says remain until the budget is back, when it
    says so (already converted from the provider's own unit).
    """

    domain: str
    utilization: float
    regain_after: float | None = None


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """What a provider call returns: the decoded ``data`` and the usage ``signals`` its responses carried."""

    data: T
    signals: tuple[UsageSignal, ...] = ()


class ProviderError(Exception):
    """Any failed provider call. ``signals`` are the usage figures its response carried."""

    def __init__(self, message: str, *, signals: tuple[UsageSignal, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.signals = signals


class RetryableError(ProviderError):
    """Worth retrying soon; ``retry_after`` seconds when the provider said, else the caller's backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 signals: tuple[UsageSignal, ...] = ()) -> None:
        super().__init__(message, signals=signals)
        self.retry_after = retry_after


class RequestTooLargeError(RetryableError):
    """The request asked for too much data at once. Retrying it unchanged fails again: the caller asks for
    less (a shorter time range, a smaller page) and retries that."""


class RateLimitedError(ProviderError):
    """A limit was hit in ``domain``; nothing in that domain should be called for ``reset_after`` seconds.

    A long ``reset_after`` (hours, a daily quota) is a reason to park the account, not to sleep.
    """

    def __init__(self, message: str, *, domain: str, reset_after: float,
                 signals: tuple[UsageSignal, ...] = ()) -> None:
        super().__init__(message, signals=signals)
        self.domain = domain
        self.reset_after = reset_after


class AuthExpiredError(ProviderError):
    """The access token is expired or revoked: refresh it, or mark the integration as needing re-auth."""


class ReauthRequiredError(AuthExpiredError):
    """The grant behind the token is dead (a refresh token revoked, rotated away or expired, or the account
    disconnected): refreshing cannot help, the user must connect the account again. A token source that
    raises it has already recorded that (marked the account ``needs_reauth``, or found it gone)."""

    needs_reauth = True


class FatalProviderError(ProviderError):
    """The request itself is wrong (bad parameter, missing permission, unknown object)."""
