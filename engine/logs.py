"""Structured logging: one JSON object per line off a TTY, readable text on one.

Every line carries the name of the actor that wrote it. The name lives in a
context variable that the supervisor sets in each child's task; trio copies
context into tasks spawned from there, so an actor's helpers inherit it. Code
outside any actor logs as ``main`` (or whatever role the process sets).

A line written while the API handles a request also carries that request's id (``request_id``), from
``current_request``: the API sets it in the task that handles the request, so the tasks that request
starts (a WebSocket's reader and writer, a job it hands to the runner) inherit it, and nothing else does.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

import msgspec

__all__ = ["configure_logging", "current_actor", "current_request"]

current_actor: ContextVar[str] = ContextVar("current_actor", default="main")
# The id of the HTTP request being handled (``X-Request-ID``); None outside a request.
current_request: ContextVar[str | None] = ContextVar("current_request", default=None)

_encoder = msgspec.json.Encoder()

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "actor"}


class _ActorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.actor = current_actor.get()
        request_id = current_request.get()
        if request_id is not None:  # an extra field: lines outside requests carry none
            record.request_id = request_id
        return True


class _PoolFloorFilter(logging.Filter):
    """asyncpg's pool logs "Failed to restore the pool connection floor; retrying" with a traceback at each
    retry while the database is down (1, 2, 4 … 60 s apart). Our Database already logs the outage once; keep
    one line of asyncpg's per outage, without the traceback, and drop the retries: a failure less than
    ``_FLOOR_QUIET`` after the previous one belongs to the same outage."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._now = now
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Failed to restore the pool connection floor"):
            return True
        now, last = self._now(), self._last
        self._last = now
        if last is not None and now - last < _FLOOR_QUIET:
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = "could not restore the pool's connections (%s); retrying until the database is back"
        record.args = (error,)
        record.exc_info = record.exc_text = None
        return True


# Longer than asyncpg's longest retry delay (60 s) plus a connect timeout (60 s).
_FLOOR_QUIET = 300.0


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

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return line if request_id is None else f"{line} [request {request_id}]"


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
    pool = logging.getLogger("asyncpg.pool")
    for old_filter in [f for f in pool.filters if isinstance(f, _PoolFloorFilter)]:
        pool.removeFilter(old_filter)
    pool.addFilter(_PoolFloorFilter())
    hyper = logging.getLogger("hypercorn.error")  # hypercorn's access log is off: the API writes its own
    hyper.handlers.clear()
    hyper.propagate = True
