"""`/v1/meta/pixels`: the pixels the connected Meta user's ad accounts can send conversion events to, and
the one chosen as the Meta integration's default, which ``POST /v1/meta/conversions`` uses when a request
names no ``pixelId`` (the API reference's example names none). It does not send events
(``http_api.providers.meta_conversions``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from adapters.meta.client import MetaClient
from engine.store import integrations as store
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.pagination import ListQuery, Pagination, paginate
from http_api.providers.clients import PROVIDER_ERRORS, meta_client
from http_api.routing import Access, Call, Router

__all__ = ["PixelId", "meta_pixels_router", "pixel_for"]

PixelId = Annotated[str, Meta(pattern="^[0-9]{1,30}$", min_length=1, max_length=30, description="A Meta pixel id",
                              examples=["1234567890123"])]


class PixelOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    name: str | None
    ad_account_id: str
    is_default: bool


class PixelList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pixels: list[PixelOut]
    default_pixel_id: str | None
    pagination: Pagination


class DefaultPixel(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pixel_id: PixelId


class DefaultPixelOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    default_pixel_id: str


async def _pixels(client: MetaClient) -> list[tuple[str, str | None, str]]:
    """(pixel id, name, ad account id) of every pixel of every ad account the Meta user reaches."""
    found: dict[str, tuple[str, str | None, str]] = {}
    for account in (await client.ad_accounts()).data:
        for pixel in (await client.ad_pixels(account.id)).data:
            found.setdefault(pixel.id, (pixel.id, pixel.name, account.id))  # a pixel shared by accounts: once
    return list(found.values())


async def pixel_for(call: Call, client: MetaClient, integration: store.Integration, given: str | None) -> str:
    """The pixel to send to: ``given``, else the integration's default, else the user's only pixel; 400
    naming ``pixelId`` and the choices otherwise."""
    if given is not None:
        return given
    chosen = await store.default_pixel(call.db, call.caller.organization_id, integration.id)
    if chosen is not None:
        return chosen
    pixels = [pixel_id for pixel_id, _, _ in await _pixels(client)]
    if len(pixels) == 1:
        return pixels[0]
    choices = f"one of {', '.join(pixels)}" if pixels else "a pixel (the Meta user's ad accounts have none)"
    raise ApiError(400, "VALIDATION_ERROR", "name the pixel, or choose a default with PUT /v1/meta/pixels/default",
                   [ErrorDetail("pixelId", f"required: {choices}")])


def meta_pixels_router(ctx: ApiContext) -> Router:
    router = Router("meta-pixels", ctx, tag="Meta")

    @router.route("GET", "/v1/meta/pixels", summary="List the pixels conversion events can go to",
                  access=Access.VIEWER, query=ListQuery, response=PixelList, errors=PROVIDER_ERRORS,
                  description="Every pixel of the connected Meta user's ad accounts (`GET /act_{id}/adspixels`),"
                              " and the integration's default (`defaultPixelId`, null until one is chosen).")
    async def list_pixels(call: Call) -> PixelList:
        async with meta_client(call) as (client, integration):
            pixels = await _pixels(client)
        default = await store.default_pixel(call.db, call.caller.organization_id, integration.id)
        shown, pagination = paginate(pixels, call.query)
        return PixelList(pixels=[PixelOut(id=p, name=name, ad_account_id=act, is_default=p == default)
                                 for p, name, act in shown], default_pixel_id=default, pagination=pagination)

    @router.route("PUT", "/v1/meta/pixels/default", summary="Choose the default pixel", access=Access.MEMBER,
                  body=DefaultPixel, response=DefaultPixelOut, errors=PROVIDER_ERRORS,
                  description="`POST /v1/meta/conversions` sends to this pixel when a request names none. 400"
                              " names `pixelId` when none of the Meta user's ad accounts has it.")
    async def choose_default(call: Call) -> DefaultPixelOut:
        body: DefaultPixel = call.body
        async with meta_client(call) as (client, integration):
            known = [pixel_id for pixel_id, _, _ in await _pixels(client)]
        if body.pixel_id not in known:
            raise ApiError(400, "VALIDATION_ERROR", "none of the Meta user's ad accounts has this pixel",
                           [ErrorDetail("pixelId", f"must be one of {', '.join(known) or 'none'}")])
        await store.set_default_pixel(call.db, call.caller.organization_id, integration.id, body.pixel_id)
        return DefaultPixelOut(default_pixel_id=body.pixel_id)

    return router
