"""The Conversions API (PROVIDERS.md A3): ``POST /<pixel_id>/events``, all-or-nothing batches of events.

It owns validation and the received events (deduplicated by event_name + event_id within 48 h). It
checks hashes look like SHA-256; it does not re-normalize raw values. CAPI is not BUC-limited here.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .clock import Clock
from .graph import GraphError, Request, Response, json_response

__all__ = ["Conversions", "ReceivedEvent"]

Json = dict[str, object]
_MAX_EVENTS = 1000
_SOURCES = frozenset(
    {
        "website",
        "app",
        "email",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
# Everything but client_ip_address, client_user_agent, fbc and fbp arrives hashed (A3), gender and birth date too.
_HASHED = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id", "ge", "db")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DEDUP_S = 48 * 3600


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    pixel_id: str
    event_name: str
    event_time: int
    event_id: str | None
    action_source: str
    test_event_code: str | None
    counted: bool  # False when a duplicate of an event within 48 h


def _invalid(message: str) -> GraphError:
    return GraphError(f"Invalid parameter: {message}", code=100, subcode=2804003)


class Conversions:
    """Events received per pixel; ``test_events`` are the ones sent with ``test_event_code``."""

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self._clock, self._rng = clock, rng
        self.events: list[ReceivedEvent] = []
        self._seen: dict[tuple[str, str, str], float] = {}

    @property
    def test_events(self) -> list[ReceivedEvent]:
        return [e for e in self.events if e.test_event_code]

    def _check(self, event: object, index: int, now: float) -> Json:
        if not isinstance(event, dict):
            raise _invalid(f"data[{index}] must be an object")
        name, at, source = event.get("event_name"), event.get("event_time"), event.get("action_source")
        if not isinstance(name, str) or not name:
            raise _invalid(f"data[{index}].event_name is required")
        if not isinstance(at, int) or at > now + 60:
            raise _invalid(f"data[{index}].event_time must be Unix seconds, not in the future")
        window = 62 if source == "physical_store" else 7
        if at < now - window * 86400:
            raise _invalid(f"data[{index}].event_time is more than {window} days in the past")
        if source not in _SOURCES:
            raise _invalid(f"data[{index}].action_source must be one of {sorted(_SOURCES)}")
        if source == "website" and not event.get("event_source_url"):
            raise _invalid(f"data[{index}].event_source_url is required for website events")
        user = event.get("user_data")
        if not isinstance(user, dict) or not user:
            raise _invalid(f"data[{index}].user_data is required")
        for key in _HASHED:
            values = user.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                if not isinstance(value, str) or not _SHA256.match(value):
                    raise _invalid(f"data[{index}].user_data.{key} must be a SHA-256 hex digest")
        return {str(k): v for k, v in event.items()}

    def receive(self, pixel_id: str, request: Request) -> Response:
        """``{"events_received", "messages": [], "fbtrace_id"}``; one invalid event rejects the whole batch."""
        data = request.json_param("data") if "data" in request.params else None
        if not isinstance(data, list) or not data:
            raise _invalid("data must be a non-empty array of events")
        if len(data) > _MAX_EVENTS:
            raise _invalid(f"at most {_MAX_EVENTS} events per request")
        now = self._clock.now()
        checked = [self._check(event, i, now) for i, event in enumerate(data)]
        test_code = request.params.get("test_event_code")
        for event in checked:
            event_id = str(event["event_id"]) if event.get("event_id") is not None else None
            key = (pixel_id, str(event["event_name"]), event_id or "")
            fresh = event_id is None or now - self._seen.get(key, -float("inf")) > _DEDUP_S
            if fresh and event_id is not None:
                self._seen[key] = now
            self.events.append(
                ReceivedEvent(
                    pixel_id,
                    str(event["event_name"]),
                    int(str(event["event_time"])),
                    event_id,
                    str(event["action_source"]),
                    test_code,
                    fresh,
                )
            )
        trace = "A" + "".join(
            self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22)
        )
        return json_response({"events_received": len(checked), "messages": [], "fbtrace_id": trace})
