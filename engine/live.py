"""The seam between the LiveHub and the live WebSocket connections: ``LiveFeed`` (what a connection asks of
the hub), ``FrameSink`` (what the hub appends to, a connection's queue of frames) and the frames the hub
encodes once for every subscriber (stream events, counts snapshots, the reply to a subscribe).

The connection's own frames, its queue and the protocol around them are the live API's (``http_api.live``);
the fan-out is the hub's (``actors.live_hub``). The frames' format is in docs/live-streams.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    from engine.store.live_feed import Counts, StoredEvent

__all__ = ["FrameSink", "LiveFeed", "Subscribed", "counts_frame", "encode", "stream_frame"]


class Subscribed(msgspec.Struct, frozen=True, rename="camel"):
    """The reply to a subscribe: the track's epoch and head seq, and whether the requested resume holds."""

    track_id: uuid.UUID
    epoch: str
    seq: int
    recovered: bool


class FrameSink(Protocol):
    """One connection's queue of encoded frames, as the hub sees it. Appending never waits."""

    @property
    def overflowed(self) -> bool:
        """The backlog of stream events overflowed: the connection is being closed as too slow."""

    @property
    def closed(self) -> tuple[int, str] | None:
        """The close code and reason once the connection is being closed."""

    def reply(self, frame: str) -> None:
        """Queue a reply or an alert, sent before anything else."""

    def events(self, frames: Iterable[str]) -> None:
        """Queue stream events, within the connection's backlog."""

    def counts(self, track_id: uuid.UUID, frame: str) -> None:
        """Queue a counts snapshot, replacing the track's previous one if it was not sent yet."""

    def publish(self, frames: list[str], track_id: uuid.UUID, counts: str | None) -> None:
        """Stream events and the track's counts snapshot with them (``None``: none this time), written in
        one go when the connection can, else queued as ``events`` and ``counts`` would."""

    async def drained(self) -> None:
        """Wait until the connection's writer has taken the replies queued."""


class LiveFeed(Protocol):
    """What a live connection asks of its process's hub: its subscriptions to tracks and to alerts."""

    async def subscribe(self, queue: FrameSink, organization_id: uuid.UUID, track_id: uuid.UUID, *,
                        epoch: str | None, after: int | None) -> Subscribed | None:
        """Subscribe ``queue`` to the track (``None``: not a track of the organization): queues the reply,
        the events after ``after`` when the resume holds (``epoch``), then live events and counts."""

    def unsubscribe(self, queue: FrameSink, track_id: uuid.UUID) -> bool:
        """Stop the track's events; False if ``queue`` was not subscribed to it."""

    def subscribe_alerts(self, queue: FrameSink, organization_id: uuid.UUID) -> bool:
        """Push the organization's alerts and events to ``queue``; False if it already gets them."""

    def unsubscribe_alerts(self, queue: FrameSink) -> bool:
        """Stop the alerts; False if ``queue`` did not get them."""

    def subscriptions(self, queue: FrameSink) -> int:
        """How many tracks ``queue`` is subscribed to."""

    def subscribed(self, queue: FrameSink, track_id: uuid.UUID) -> bool:
        """Whether ``queue`` gets the track's events."""

    def detach(self, queue: FrameSink) -> None:
        """Forget ``queue`` (its connection ended): every subscription of it ends."""


class _StreamData(msgspec.Struct, frozen=True, rename="camel"):
    track_id: uuid.UUID
    platform: str
    country: str
    timestamp: datetime


class _StreamFrame(msgspec.Struct, frozen=True):
    seq: int
    data: _StreamData
    event: str = "stream"


class _CountsData(msgspec.Struct, frozen=True, rename="camel"):
    track_id: uuid.UUID
    window: str
    streams: int
    countries: dict[str, int]


class _CountsFrame(msgspec.Struct, frozen=True):
    seq: int
    data: _CountsData
    event: str = "counts"


_encoder = msgspec.json.Encoder()


def encode(message: object) -> str:
    """One frame: ``message`` as JSON text."""
    return _encoder.encode(message).decode()


def stream_frame(event: StoredEvent) -> str:
    data = _StreamData(track_id=event.track_id, platform=event.platform, country=event.country,
                       timestamp=event.occurred_at.astimezone(UTC))
    return encode(_StreamFrame(seq=event.seq, data=data))


def counts_frame(counts: Counts) -> str:
    data = _CountsData(track_id=counts.track_id, window="1h", streams=counts.streams, countries=counts.countries)
    return encode(_CountsFrame(seq=counts.seq, data=data))
