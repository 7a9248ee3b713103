"""`POST /v1/meta/conversions` (one event) and `POST /v1/meta/conversions/batch` (up to 1,000): server-side
conversion events sent to a Meta pixel (the one named, else the integration's default) through the
Conversions API, with the customer's details normalised and SHA-256 hashed before they leave
(``adapters.meta.conversions``); nothing of them is stored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import Meta

from adapters.meta.conversions import (
    MAX_EVENTS_PER_REQUEST,
    ActionSource,
    CustomData,
    ServerEvent,
    UserData,
    check_events,
)
from http_api.catalog.schemas import CountryCode, Url, iso_country
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.providers.clients import PROVIDER_ERRORS, meta_client
from http_api.providers.meta_pixels import PixelId, pixel_for
from http_api.routing import Access, Call, Router

__all__ = ["ConversionBatch", "ConversionEvent", "ConversionResult", "meta_conversions_router"]

_Text = Annotated[str, Meta(min_length=1, max_length=320)]


class ConversionUser(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Who converted. Every field but the last four is hashed before it is sent; ``phone`` must include its
    country code. Give as many as you have: Meta matches on them."""

    email: _Text | None = None
    phone: _Text | None = None
    first_name: _Text | None = None
    last_name: _Text | None = None
    city: _Text | None = None
    state: _Text | None = None
    zip: _Text | None = None
    country: CountryCode | None = None
    external_id: _Text | None = None
    client_ip_address: _Text | None = None
    client_user_agent: Annotated[str, Meta(min_length=1, max_length=1000)] | None = None
    fbc: _Text | None = None
    fbp: _Text | None = None

    def __post_init__(self) -> None:
        self.country = iso_country(self.country)


class ConversionValue(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """What the conversion was worth, in major units of ``currency`` (9.99 USD)."""

    currency: Annotated[str, Meta(pattern="^[A-Z]{3}$", min_length=3, max_length=3)] | None = None
    value: Annotated[float, Meta(ge=0, le=1_000_000_000)] | None = None
    order_id: _Text | None = None
    content_ids: Annotated[list[_Text], Meta(max_length=100)] = []


class ConversionFields(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """One event. ``eventTime`` is Unix seconds, at most 7 days old (62 for ``physical_store``);
    ``eventId`` lets Meta count a retried or Pixel-duplicated event once; ``website`` events need
    ``eventSourceUrl``. ``actionSource`` defaults to ``website`` when ``eventSourceUrl`` is given and to
    ``other`` when not (the API reference's example gives neither)."""

    event_name: Annotated[str, Meta(min_length=1, max_length=100)]
    event_time: Annotated[int, Meta(ge=0)]
    user_data: ConversionUser
    custom_data: ConversionValue | None = None
    event_id: _Text | None = None
    action_source: ActionSource | None = None
    event_source_url: Url | None = None


class ConversionEvent(ConversionFields, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """One event for the pixel ``pixelId`` (absent: the integration's default pixel, see
    ``GET /v1/meta/pixels``); ``testEventCode`` sends it to Events Manager's test view."""

    pixel_id: PixelId | None = None
    test_event_code: _Text | None = None


class ConversionBatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Up to 1,000 events (Meta's limit per request) for one pixel, sent in one request: Meta takes all
    of them or none."""

    events: Annotated[list[ConversionFields], Meta(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)]
    pixel_id: PixelId | None = None
    test_event_code: _Text | None = None


class ConversionResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    events_received: int
    pixel_id: str
    fbtrace_id: str | None


# check_events and UserData.hashed name Meta's fields; the caller wrote ours.
_FIELDS = {"event_source_url": "eventSourceUrl", "event_time": "eventTime", "action_source": "actionSource",
           "event_name": "eventName"}


def meta_conversions_router(ctx: ApiContext) -> Router:
    router = Router("meta-conversions", ctx, tag="Meta")

    @router.route("POST", "/v1/meta/conversions", summary="Send a conversion event to a Meta pixel",
                  access=Access.MEMBER, body=ConversionEvent, response=ConversionResult,
                  errors=PROVIDER_ERRORS)
    async def send_conversion(call: Call) -> ConversionResult:
        body: ConversionEvent = call.body
        return await _send(call, body.pixel_id, [body], body.test_event_code)

    @router.route("POST", "/v1/meta/conversions/batch", summary="Send up to 1,000 conversion events at once",
                  access=Access.MEMBER, body=ConversionBatch, response=ConversionResult,
                  errors=PROVIDER_ERRORS)
    async def send_batch(call: Call) -> ConversionResult:
        body: ConversionBatch = call.body
        return await _send(call, body.pixel_id, body.events, body.test_event_code)

    return router


async def _send(call: Call, pixel_id: str | None, bodies: Sequence[ConversionFields],
                test_event_code: str | None) -> ConversionResult:
    events = [_server_event(body) for body in bodies]
    try:
        check_events(events, call.ctx.now())
        events = [msgspec.structs.replace(event, user_data=event.user_data.hashed()) for event in events]
    except ValueError as exc:
        message = str(exc)
        field = next((ours for theirs, ours in _FIELDS.items() if theirs in message), "userData")
        raise ApiError(400, "VALIDATION_ERROR", message, [ErrorDetail(field, message)]) from exc
    async with meta_client(call) as (client, integration):
        pixel = await pixel_for(call, client, integration, pixel_id)
        sent = await client.send_events(pixel, events, test_event_code=test_event_code, now=call.ctx.now())
    return ConversionResult(events_received=sent.data.events_received, pixel_id=pixel,
                            fbtrace_id=sent.data.fbtrace_ids[0] if sent.data.fbtrace_ids else None)


def _server_event(body: ConversionFields) -> ServerEvent:
    user = body.user_data
    user_data = UserData(
        em=[user.email] if user.email else [], ph=[user.phone] if user.phone else [],
        external_id=[user.external_id] if user.external_id else [], fn=user.first_name, ln=user.last_name,
        ct=user.city, st=user.state, zp=user.zip, country=user.country, client_ip_address=user.client_ip_address,
        client_user_agent=user.client_user_agent, fbc=user.fbc, fbp=user.fbp)
    value = body.custom_data
    custom = None if value is None else CustomData(value=None if value.value is None else Decimal(str(value.value)),
                                                   currency=value.currency,
                                                   order_id=value.order_id, content_ids=list(value.content_ids))
    source = body.action_source or ("website" if body.event_source_url else "other")
    return ServerEvent(event_name=body.event_name, event_time=body.event_time, action_source=source,
                       user_data=user_data, event_id=body.event_id, event_source_url=body.event_source_url,
                       custom_data=custom)
