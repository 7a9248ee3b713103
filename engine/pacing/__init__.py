"""Provider pacing: how fast an actor may call a provider (``Governor`` per rate domain, ``Pacer`` over the
domains of a call) and how long it waits before a retry (``RetryPolicy``). Pure: no sleeping, no clock, no
I/O. Not the API's own request quotas (``http_api.quotas``) nor restart backoff (``engine.backoff``).
"""

from __future__ import annotations

from engine.pacing.governor import Governor
from engine.pacing.pacer import Pacer
from engine.pacing.retry import RetryPolicy, RetryState, RetryWait

__all__ = ["Governor", "Pacer", "RetryPolicy", "RetryState", "RetryWait"]
