"""The seam between the engine and any provider: the ways a provider call can
fail, and the neutral rate signals that every response (errors included)
carries. Adapters produce these; the pacing math in ``engine.pacing`` and
the actors consume them. Nothing here knows Meta or Spotify.

Error tree::

    ProviderError
    ├── RetryableError(retry_after)      a 5xx, a timeout, a transient code: try again soon
    ├── RateLimitedError(domain, reset_after)   a limit was hit: that domain waits until reset
    ├── AuthExpiredError                 the token is dead: refresh it, or ask the user to re-connect
    └── FatalProviderError               a bad request or a permission: retrying cannot help
"""

from __future__ import annotations

import msgspec

__all__ = [
    "AuthExpiredError",
    "FatalProviderError",
    "ProviderError",
    "RateLimitedError",
    "RetryableError",
    "UsageSignal",
]


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


class FatalProviderError(ProviderError):
    """The request itself is wrong (bad parameter, missing permission, unknown object)."""
