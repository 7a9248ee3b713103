"""`/v1/streaming`: live stream events sent in by a member's systems, and the realtime streams of a track
in fixed buckets, for the caller's organization only.

We check each event on its own so one bad event does not cost the good ones; storing, idempotency and the
buckets belong to ``engine.store.stream_events``. The WebSocket feed of the same events is not here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from quart import Response

from engine.store import stream_events as store
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorBody, ErrorDetail, not_found, store_errors
from http_api.responses import json_response
from http_api.routing import Access, Call, Router
from http_api.validation import validate

__all__ = [
    "EventBatch",
    "RealtimeQuery",
    "RealtimeStreams",
    "RejectedEvents",
    "StreamEvent",
    "streaming_router",
]

MAX_EVENTS = 1000
# Every pattern ends with ``(?!\n)$``: Python's ``$`` also matches before a final newline, so without it
# "spotify\n" would pass as "spotify". C0 and C1 control characters are refused in ids: they end up in
# logs and dashboards, where they garble the line or the terminal.
EventId = Annotated[
    str, Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f-\x9f]+(?!\n)$",
              description="The sender's id of the event, 1 to 128 characters without control characters;"
                          " sending an id again stores nothing", examples=["sp-20270115-000123"]),
]
Platform = Annotated[
    str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}(?!\n)$", description="Where the stream happened: a lowercase"
              " name of 1 to 32 characters", examples=["spotify", "apple_music", "youtube"]),
]
Country = Annotated[
    str, Meta(pattern=r"^[A-Za-z]{2}(?!\n)$", description="ISO 3166-1 alpha-2 code of the listener's country,"
              " stored uppercase; ZZ when unknown", examples=["US", "ZZ"]),
]
Timestamp = Annotated[
    datetime, Meta(tz=True, description="When the stream happened: RFC 3339 with an offset, at most 7 days"
                   " ago and at most 5 minutes ahead"),
]


class StreamEvent(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """One stream of one track."""

    id: EventId
    track_id: uuid.UUID
    platform: Platform
    country: Country
    timestamp: Timestamp


# The batch takes its events as plain objects so that each is checked on its own (``_check``); the
# documented schema of an element is still StreamEvent's. ``Any`` rather than ``object`` for the values:
# msgspec decodes both alike but can only describe ``Any`` in a JSON schema.
_EVENT_SCHEMA = msgspec.json.schema_components([StreamEvent])[1]["StreamEvent"]


class EventBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """1 to 1000 events, in any order and of any of the organization's tracks."""

    events: Annotated[
        list[Annotated[dict[str, Any], Meta(extra_json_schema=_EVENT_SCHEMA)]],
        Meta(min_length=1, max_length=MAX_EVENTS),
    ]


class RejectedEvents(msgspec.Struct, frozen=True, kw_only=True):
    """The 400 of a batch: the error envelope and, when only some events were bad, what was stored of the
    others. A malformed batch stores nothing and answers with ``error`` alone."""

    error: ErrorBody
    accepted: int = 0
    duplicates: int = 0


Interval = Literal["5m", "15m", "1h"]
_WIDTHS: dict[str, timedelta] = {"5m": timedelta(minutes=5), "15m": timedelta(minutes=15), "1h": timedelta(hours=1)}


class RealtimeQuery(msgspec.Struct, kw_only=True):
    """``buckets`` of ``interval`` each, the last one being the current, still-filling one."""

    interval: Interval = "5m"
    buckets: Annotated[int, Meta(ge=1, le=288)] = 12


class RealtimePoint(msgspec.Struct, frozen=True, kw_only=True):
    """Streams in the bucket starting at ``timestamp``; ``countries`` by count, largest first."""

    timestamp: datetime
    streams: int
    countries: dict[str, int]


class RealtimeStreams(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    track_id: uuid.UUID
    interval: Interval
    data: list[RealtimePoint]


_INGEST_DESCRIPTION = (
    "Each event is checked on its own. When all are good the answer is 200 with how many were new"
    " (`accepted`) and how many had an id already stored or repeated in the batch (`duplicates`, not an"
    " error). When some are bad, the good ones are stored anyway and the answer is 400 VALIDATION_ERROR"
    " with one detail per problem (`events[3].country`) and, next to `error`, the `accepted` and"
    " `duplicates` of the good ones: re-sending the whole corrected batch is safe, as ids already stored"
    " count as duplicates. A malformed batch (not JSON, no `events` list, 0 or more than 1000 events, an"
    " element that is not an object) is a 400 that stores nothing. Events older than 7 days belong in a"
    " stream-report import, not here."
)


def _now(call: Call) -> datetime:
    """Domain time: in a sandbox the simulated clock, which the demo's listens are stamped on."""
    return call.ctx.domain_now()


# msgspec's own message for these quotes the regular expression; a sender is better served by words.
_PATTERN_MESSAGES = {
    "id": "must be 1 to 128 characters without control characters",
    "platform": "must be a lowercase name of 1 to 32 letters, digits, _ or - that starts with a letter"
                " (spotify, apple_music)",
    "country": "must be two letters: an ISO 3166-1 alpha-2 code, or ZZ when the country is unknown",
}


def _field(index: int, name: str) -> str:
    return f"events[{index}]" if name == "body" else f"events[{index}].{name}"


def _check(index: int, raw: dict[str, Any], now: datetime) -> store.NewEvent | list[ErrorDetail]:
    """The event at ``index`` ready to store, or what is wrong with it (every field named in full)."""
    try:
        event = validate(raw, StreamEvent)
    except ApiError as err:
        return [ErrorDetail(_field(index, d.field),
                            _PATTERN_MESSAGES[d.field] if "matching regex" in d.message else d.message)
                for d in err.details]
    if event.timestamp < now - store.MAX_AGE:
        return [ErrorDetail(_field(index, "timestamp"),
                            f"is more than {store.MAX_AGE.days} days old: live events cover the last"
                            f" {store.MAX_AGE.days} days; older streams belong in a stream-report import")]
    if event.timestamp > now + store.MAX_AHEAD:
        minutes = int(store.MAX_AHEAD.total_seconds() // 60)
        return [ErrorDetail(_field(index, "timestamp"),
                            f"is more than {minutes} minutes in the future: we allow {minutes} minutes of"
                            " clock difference; check the sender's clock")]
    return store.NewEvent(event_id=event.id, track_id=event.track_id, platform=event.platform,
                          country=event.country.upper(), occurred_at=event.timestamp)


def _rejected(problems: list[ErrorDetail], rejected: int, total: int, result: store.IngestResult) -> Response:
    stored = total - rejected
    message = (f"{rejected} of {total} events {'was' if rejected == 1 else 'were'} rejected; "
               + (f"the other {stored} {'was' if stored == 1 else 'were'} stored" if stored else "none was stored"))
    body = RejectedEvents(error=ErrorBody("VALIDATION_ERROR", message, problems), accepted=result.accepted,
                          duplicates=result.duplicates)
    return json_response(body, status=400)


def _window(query: RealtimeQuery, now: datetime) -> tuple[timedelta, datetime, datetime]:
    """The bucket width, and the span from the oldest bucket's start to the end of the current one."""
    width = _WIDTHS[query.interval]
    step = int(width.total_seconds())
    current = datetime.fromtimestamp(now.timestamp() // step * step, UTC)
    return width, current - (query.buckets - 1) * width, current + width


def streaming_router(ctx: ApiContext) -> Router:
    router = Router("streaming", ctx, tag="Streaming")

    @router.route("POST", "/v1/streaming/events", summary="Send live stream events", access=Access.MEMBER,
                  body=EventBatch, response=store.IngestResult, description=_INGEST_DESCRIPTION,
                  other_responses=((400, RejectedEvents, "Invalid input: a malformed batch (nothing stored), or"
                                    " some bad events (the good ones stored; see accepted and duplicates)"),))
    async def ingest_events(call: Call) -> store.IngestResult | Response:
        batch: EventBatch = call.body
        now, org = _now(call), call.caller.organization_id
        checked = [_check(index, raw, now) for index, raw in enumerate(batch.events)]
        known = await store.known_tracks(
            call.db, org, [outcome.track_id for outcome in checked if isinstance(outcome, store.NewEvent)])
        events: list[store.NewEvent] = []
        problems: list[ErrorDetail] = []
        for index, outcome in enumerate(checked):
            if isinstance(outcome, list):
                problems += outcome
            elif outcome.track_id not in known:
                problems.append(ErrorDetail(_field(index, "trackId"), "no such track in this organization"))
            else:
                events.append(outcome)
        with store_errors():  # a track deleted since known_tracks: 404, and nothing stored
            result = await store.ingest(call.db, org, events, received_at=now)
        if len(events) < len(batch.events):
            return _rejected(problems, len(batch.events) - len(events), len(batch.events), result)
        return result

    @router.route("GET", "/v1/streaming/realtime/<uuid:track_id>", summary="Get a track's realtime streams",
                  access=Access.VIEWER, query=RealtimeQuery, response=RealtimeStreams,
                  description="Streams per bucket (aligned to the Unix epoch, in UTC), oldest first, with a"
                              " breakdown by country; buckets without streams are listed with 0. The last"
                              " bucket is the current one and still filling. Events are kept 8 days.")
    async def realtime(call: Call, track_id: uuid.UUID) -> RealtimeStreams:
        query: RealtimeQuery = call.query
        if track_id not in await store.known_tracks(call.db, call.caller.organization_id, [track_id]):
            raise not_found("track")
        width, since, until = _window(query, _now(call))
        buckets = await store.realtime(call.db, track_id, width=width, since=since, until=until)
        data = [RealtimePoint(timestamp=b.start, streams=b.streams, countries=b.countries) for b in buckets]
        return RealtimeStreams(track_id=track_id, interval=query.interval, data=data)

    return router
