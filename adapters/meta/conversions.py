"""The Conversions API (PROVIDERS.md A3 CAPI): server events, customer-information hashing, and ``send_events``.

It owns how customer information is normalised and SHA-256 hashed before it leaves us (Meta matches
hashes, so one stray capital or space is a lost match), the event Structs, the checks Meta would
otherwise apply to a whole batch, and splitting into requests of at most 1,000 events. It does not
deduplicate: Meta does that on ``event_name`` + ``event_id``. ``MetaClient`` mixes ``ConversionsMethods``
in; ``adapters.meta.audiences`` reuses the normalisers for customer lists.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Literal, get_args

import msgspec

from adapters.meta import schemas
from adapters.meta.transport import GraphTransport, merge_signals
from engine.provider import Result, UsageSignal

__all__ = [
    "ACTION_SOURCES",
    "FIELD_NORMALIZERS",
    "MAX_EVENTS_PER_REQUEST",
    "ActionSource",
    "ConversionsMethods",
    "CustomData",
    "EventsSent",
    "ServerEvent",
    "UserData",
    "check_events",
    "hash_field",
    "is_sha256",
    "normalize_birthdate",
    "normalize_city",
    "normalize_country",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_zip",
    "sha256_hex",
]

MAX_EVENTS_PER_REQUEST: Final = 1000
ActionSource = Literal[
    "website", "app", "email", "phone_call", "chat", "physical_store", "system_generated", "business_messaging",
    "other",
]
ACTION_SOURCES: Final[frozenset[str]] = frozenset(get_args(ActionSource))
_MAX_AGE_S = 7 * 86400  # older fails the whole request (A3)
_MAX_AGE_STORE_S = 62 * 86400  # physical_store events may be older
_FUTURE_SKEW_S = 60  # our clock and Meta's differ a little; more than this is a caller bug (often milliseconds)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")
_US_ZIP_PLUS_4 = re.compile(r"([0-9]{5})[\s-]?[0-9]{4}")
_DIGITS = re.compile(r"[0-9]+")
_GENDERS = {"f": "f", "female": "f", "m": "m", "male": "m"}


def sha256_hex(normalized: str) -> str:
    """SHA-256 of the UTF-8 bytes, as lowercase hex: the form Meta matches on."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def is_sha256(value: str) -> bool:
    """Whether ``value`` already is a digest (64 lowercase hex), which we pass through rather than hash again."""
    return _SHA256_HEX.fullmatch(value) is not None


def normalize_email(value: str) -> str:
    """``em``: trimmed, then lowercased (A3). Raises ValueError when there is no ``@``."""
    email = value.strip().lower()
    if "@" not in email:
        raise ValueError(f"em: {value!r} is not an email address")
    return email


def normalize_phone(value: str, *, country_code: str | None = None) -> str:
    """``ph``: digits only, without leading zeros, with the country code: "+1 (650) 555-1212" → "16505551212".

    Meta needs the country code in the number (A3). When the caller's numbers may be national
    ("(650)555-1212"), pass ``country_code`` ("1"): we prepend it unless the number was written
    internationally ("+…", "00…") or already starts with it. Raises ValueError when no digit is left.
    """
    if country_code is not None and _DIGITS.fullmatch(country_code) is None:
        raise ValueError(f"ph: country_code {country_code!r} must be digits, like '1' or '44'")
    international = value.lstrip().startswith(("+", "00"))
    digits = _NOT_ASCII_DIGIT.sub("", value).lstrip("0")
    if not digits:
        raise ValueError(f"ph: {value!r} has no digits")
    if country_code and not international and not digits.startswith(country_code):
        digits = country_code + digits
    return digits


def _letters(value: str) -> str:
    # NFC first so that "é" written as e + combining accent is one letter and keeps its accent.
    text = unicodedata.normalize("NFC", value).lower()
    return "".join(ch for ch in text if ch.isalpha())


def normalize_name(value: str) -> str:
    """``fn``/``ln``: lowercase letters only, no punctuation or spaces, other scripts kept as UTF-8: "Mary" → "mary"."""
    return _letters(value)


def normalize_city(value: str) -> str:
    """``ct``: lowercase letters only, spaces and punctuation removed: "Menlo Park" → "menlopark"."""
    return _letters(value)


def normalize_state(value: str) -> str:
    """``st``: lowercase, no spaces or punctuation; US states as their two-letter code ("CA" → "ca")."""
    return _letters(value)


def normalize_zip(value: str) -> str:
    """``zp``: lowercase, no spaces or dashes; a US ZIP+4 keeps its first five digits ("94025-1234" → "94025")."""
    text = value.strip().lower()
    if (us := _US_ZIP_PLUS_4.fullmatch(text)) is not None:
        return us.group(1)
    return "".join(ch for ch in text if ch.isalnum())


def normalize_country(value: str) -> str:
    """``country``: the ISO 3166-1 alpha-2 code in lowercase ("US" → "us"). Raises ValueError for anything else."""
    code = "".join(ch for ch in value.lower() if "a" <= ch <= "z")
    if len(code) != 2:
        raise ValueError(f"country: {value!r} is not a two-letter ISO 3166-1 code")
    return code


def normalize_external_id(value: str) -> str:
    """``external_id``: trimmed and lowercased, as Meta's SDKs do, so it matches the id the Pixel sends."""
    return value.strip().lower()


def normalize_gender(value: str) -> str:
    """``ge``: "f" or "m" ("Female" → "f"). Raises ValueError for anything else."""
    gender = _GENDERS.get(value.strip().lower())
    if gender is None:
        raise ValueError(f"ge: {value!r} is not f, m, female or male")
    return gender


def normalize_birthdate(value: str) -> str:
    """``db``: ``YYYYMMDD`` ("1997-02-16" → "19970216"). Raises ValueError when it is not a real date."""
    digits = _NOT_ASCII_DIGIT.sub("", value)
    try:
        if len(digits) != 8:  # strptime alone would take "1997216"; Meta wants two-digit months and days
            raise ValueError(digits)
        time.strptime(digits, "%Y%m%d")
    except ValueError:
        raise ValueError(f"db: {value!r} is not a date written year, month, day (YYYYMMDD)") from None
    return digits


FIELD_NORMALIZERS: Final[Mapping[str, Callable[[str], str]]] = MappingProxyType({
    "em": normalize_email,
    "ph": normalize_phone,
    "fn": normalize_name,
    "ln": normalize_name,
    "ct": normalize_city,
    "st": normalize_state,
    "zp": normalize_zip,
    "country": normalize_country,
    "external_id": normalize_external_id,
    "ge": normalize_gender,
    "db": normalize_birthdate,
})


def hash_field(field: str, value: str) -> str:
    """``value`` of customer-information ``field`` ("em", "ph", … keys of ``FIELD_NORMALIZERS``) as Meta wants it.

    A digest (64 lowercase hex, surrounding whitespace ignored) passes through unchanged, so hashing
    twice is harmless. Otherwise we normalise and hash; "" when normalising leaves nothing (a name of
    only punctuation), since a hash of "" would match nobody. Raises ValueError from the normaliser,
    or KeyError for an unknown field.
    """
    candidate = value.strip()
    if is_sha256(candidate):
        return candidate
    normalized = FIELD_NORMALIZERS[field](value)
    return sha256_hex(normalized) if normalized else ""


_LIST_FIELDS = ("em", "ph", "external_id")
_SCALAR_FIELDS = ("fn", "ln", "ct", "st", "zp", "country", "ge", "db")


class UserData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Customer information for matching. Give raw values or digests; ``hashed()`` makes them all digests.

    ``client_ip_address``, ``client_user_agent``, ``fbc`` and ``fbp`` are sent as they are: Meta
    needs them unhashed (A3). Phone numbers must carry their country code (see ``normalize_phone``).
    """

    em: list[str] = msgspec.field(default_factory=list)
    ph: list[str] = msgspec.field(default_factory=list)
    fn: str | None = None
    ln: str | None = None
    ct: str | None = None
    st: str | None = None
    zp: str | None = None
    country: str | None = None
    external_id: list[str] = msgspec.field(default_factory=list)
    ge: str | None = None
    db: str | None = None
    client_ip_address: str | None = None
    client_user_agent: str | None = None
    fbc: str | None = None
    fbp: str | None = None

    def hashed(self) -> UserData:
        """A copy with every customer-information field normalised and hashed; empty values are dropped.

        Raises ValueError naming the field when a value cannot be normalised (an email without "@").
        """
        changes: dict[str, object] = {}
        for name in _LIST_FIELDS:
            changes[name] = [digest for value in getattr(self, name) if (digest := hash_field(name, value))]
        for name in _SCALAR_FIELDS:
            value = getattr(self, name)
            changes[name] = (hash_field(name, value) or None) if value is not None else None
        return msgspec.structs.replace(self, **changes)


class CustomData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the event was worth: ``value`` in MAJOR units of ``currency`` (ISO 4217), unlike our budgets.

    ``adapters.meta.money.to_major`` converts from minor units.
    """

    value: Decimal | None = None
    currency: str | None = None
    content_ids: list[str] = msgspec.field(default_factory=list)
    content_type: str | None = None
    content_name: str | None = None
    order_id: str | None = None
    num_items: int | None = None


class ServerEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One Conversions API event. ``event_time`` is Unix SECONDS; ``event_id`` lets Meta deduplicate it
    against the Pixel's copy and against our own retries (same ``event_name`` + ``event_id`` within 48 h
    counts once). ``event_source_url`` is required for ``website`` events.
    """

    event_name: str
    event_time: int
    action_source: ActionSource
    user_data: UserData
    event_id: str | None = None
    event_source_url: str | None = None
    custom_data: CustomData | None = None
    opt_out: bool | None = None


@dataclass(frozen=True, slots=True)
class EventsSent:
    """What Meta said about all the requests of one ``send_events``: events counted, traces, warnings."""

    events_received: int
    fbtrace_ids: tuple[str, ...]
    messages: tuple[object, ...] = ()


def check_events(events: Sequence[ServerEvent], now: float) -> None:
    """Raise ValueError for the first event Meta would reject the whole batch for, as far as A3 documents.

    We check before sending anything because a batch is split into several requests: a bad event in
    the third would otherwise fail after the first two were already counted.
    """
    for index, event in enumerate(events):
        where = f"events[{index}] ({event.event_name!r})"
        if not event.event_name:
            raise ValueError(f"events[{index}]: event_name is empty")
        if event.action_source not in ACTION_SOURCES:
            raise ValueError(f"{where}: action_source {event.action_source!r} is not one of {sorted(ACTION_SOURCES)}")
        if event.action_source == "website" and not event.event_source_url:
            raise ValueError(f"{where}: website events need event_source_url")
        max_age = _MAX_AGE_STORE_S if event.action_source == "physical_store" else _MAX_AGE_S
        if event.event_time < now - max_age:
            raise ValueError(f"{where}: event_time {event.event_time} is more than {max_age // 86400} days old")
        if event.event_time > now + _FUTURE_SKEW_S:
            raise ValueError(f"{where}: event_time {event.event_time} is in the future (Unix seconds, not ms?)")


_EVENTS_ENCODER = msgspec.json.Encoder(decimal_format="number")  # Meta wants "value": 25.5, not "25.5"


class ConversionsMethods:
    """The Conversions API calls of ``MetaClient``."""

    _graph: GraphTransport

    async def ad_pixels(self, act_id: str) -> Result[list[schemas.AdsPixel]]:
        """The pixels an ad account can send events to (``GET /act_<id>/adspixels``), paged to the end."""
        return await self._graph.pages(f"{act_id}/adspixels", schemas.PIXEL_PAGE, {"fields": "id,name",
                                       "limit": "100"}, account_id=act_id)

    async def send_events(self, pixel_id: str, events: Sequence[ServerEvent], *,
                          test_event_code: str | None = None, now: float | None = None) -> Result[EventsSent]:
        """Send ``events`` to the pixel (``POST /<pixel_id>/events``), hashed, in requests of at most 1,000.

        ``test_event_code`` routes them to Events Manager's test view. ``now`` (Unix seconds, default
        the wall clock) is the time ``event_time`` is judged against. Returns the summed
        ``events_received``, every ``fbtrace_id`` and the latest usage signals.

        Raises ValueError, before any request, for no events, a malformed ``pixel_id``, an event
        ``check_events`` refuses or a value ``UserData.hashed`` cannot normalise.

        Error handling: as ``GraphTransport.call``; an unknown pixel is a ``FatalProviderError``. When
        a later request fails, earlier ones were already counted. Sending the same events again is
        safe for those with an ``event_id`` (Meta deduplicates them for 48 h); those without would count twice.
        """
        if not events:
            raise ValueError("send_events needs at least one event")
        if _DIGITS.fullmatch(pixel_id) is None:
            raise ValueError(f"pixel_id {pixel_id!r} must be the pixel's numeric id")
        check_events(events, time.time() if now is None else now)
        hashed = [msgspec.structs.replace(event, user_data=event.user_data.hashed()) for event in events]
        received = 0
        traces: list[str] = []
        messages: list[object] = []
        signals: tuple[UsageSignal, ...] = ()
        for start in range(0, len(hashed), MAX_EVENTS_PER_REQUEST):
            chunk = hashed[start : start + MAX_EVENTS_PER_REQUEST]
            data = {"data": _EVENTS_ENCODER.encode(chunk).decode()}
            if test_event_code is not None:
                data["test_event_code"] = test_event_code
            result = await self._graph.post(f"{pixel_id}/events", schemas.EVENTS_RECEIVED, data)
            received += result.data.events_received
            if result.data.fbtrace_id:
                traces.append(result.data.fbtrace_id)
            messages += result.data.messages
            signals = merge_signals(signals, result.signals)
        return Result(EventsSent(received, tuple(traces), tuple(messages)), signals)
