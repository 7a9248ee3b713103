"""Structured logging: one JSON object per line off a TTY, readable text on one.

Every line carries the name of the actor that wrote it. The name lives in a
context variable that the supervisor sets in each child's task; trio copies
context into tasks spawned from there, so an actor's helpers inherit it. Code
outside any actor logs as ``main`` (or whatever role the process sets).
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

import msgspec

__all__ = ["configure_logging", "current_actor"]

current_actor: ContextVar[str] = ContextVar("current_actor", default="main")

_encoder = msgspec.json.Encoder()

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "actor"}


class _ActorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.actor = current_actor.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, actor, msg, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "actor": getattr(record, "actor", current_actor.get()),
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            line["exc"] = "".join(traceback.format_exception(*record.exc_info))
        return _encoder.encode(line).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(actor)s] %(name)s: %(message)s")


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "text"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Route every logger (ours, hypercorn's, asyncpg's) through one handler on ``stream``."""
    stream = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ActorFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("hypercorn.error", "hypercorn.access"):
        hyper = logging.getLogger(name)
        hyper.handlers.clear()
        hyper.propagate = True
