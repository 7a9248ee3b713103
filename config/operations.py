"""The settings of what the service tells its operators about itself: ``[metrics]``, ``[telemetry]``,
``[audit]`` and ``[log]``; strict, frozen Structs like ``config.sections``' others.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from config.sections import FieldConflict, Secret

__all__ = ["AuditSettings", "LogSettings", "MetricsSettings", "TelemetrySettings"]


class MetricsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """``GET /metrics`` (Prometheus' text format, docs/metrics.md). ``mode``: ``off`` (404), ``loopback`` (only
    a scraper connecting from 127.0.0.1 or ::1 itself, not through a proxy) or ``token`` (anyone presenting
    ``Authorization: Bearer <token>``)."""

    mode: Literal["off", "loopback", "token"] = "loopback"
    token: Secret | None = None

    def __post_init__(self) -> None:
        if self.mode == "token" and self.token is None:
            raise FieldConflict(("mode", "token"), 'mode "token" needs a token that scrapers present')


class TelemetrySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """OpenTelemetry traces (docs/telemetry.md). ``endpoint``: the OTLP/HTTP traces URL of a collector
    (``http://collector:4318/v1/traces``); empty, the default, exports nothing. ``service_name`` names the
    service in the traces."""

    endpoint: Annotated[str, Meta(pattern="^(https?://.+)?$",
                                  extra={"expected": "an http:// or https:// URL, or nothing"})] = ""
    service_name: Annotated[str, Meta(min_length=1)] = "songtrack"


class AuditSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The audit log (docs/audit-log.md). ``retention_days``: days its rows are kept before the housekeeper
    deletes them."""

    retention_days: Annotated[int, Meta(ge=1, le=36500)] = 365


class LogSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Log verbosity and line format (``auto``: text on a TTY, JSON otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "text"] = "auto"
