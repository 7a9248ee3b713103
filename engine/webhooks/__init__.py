"""The webhook core, without I/O: signatures (``signing``), the retry policy (``schedule``) and the
SSRF rules for delivery targets (``ssrf``). The store (``engine.store.webhooks``) and the dispatcher
(``actors.webhook_dispatcher``) build on it; nothing here sleeps, resolves or connects.
"""

from __future__ import annotations

from engine.webhooks.events import EVENT_TYPES

__all__ = ["EVENT_TYPES"]
