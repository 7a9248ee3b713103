"""`/v1/audiences`: the people an organization targets, described by criteria (custom audiences) or
derived from one of them (lookalikes).

A lookalike is created here, in our database only; pushing audiences to Meta is not here. Another
organization's audience answers 404, as a missing one does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.store import audiences as store
from http_api.catalog_schemas import (
    AudienceCriteria,
    CountryCode,
    Description,
    Name,
    PageQuery,
    Pagination,
    age_problem,
    patch_changes,
)
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found, store_errors
from http_api.routing import Access, Call, Router

__all__ = [
    "Audience",
    "AudienceCreate",
    "AudienceList",
    "AudiencePatch",
    "AudienceQuery",
    "LookalikeCreate",
    "audiences_router",
]


class AudienceCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A custom audience: the people who match ``criteria``."""

    name: Name
    description: Description | None = None
    criteria: AudienceCriteria = msgspec.field(default_factory=AudienceCriteria)

    def __post_init__(self) -> None:
        problem = age_problem("criteria", self.criteria)
        if problem:
            raise ValueError(problem)


class AudiencePatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The fields to change; absent fields stay as they are, ``null`` clears ``description``, and
    ``criteria`` replaces all the criteria (a lookalike has none: its people come from its source)."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    criteria: AudienceCriteria | UnsetType = UNSET

    def __post_init__(self) -> None:
        problem = age_problem("criteria", self.criteria)
        if problem:
            raise ValueError(problem)

    def changes(self) -> dict[str, object]:
        return patch_changes(self)


class LookalikeCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A lookalike of a custom audience: the people in ``countries`` who most resemble it. ``ratio`` is
    the share of those countries' population to include, from 0.01 (the closest 1%) to 0.20."""

    name: Name
    countries: Annotated[
        list[CountryCode], Meta(min_length=1, max_length=25, extra_json_schema={"uniqueItems": True})
    ]
    ratio: Annotated[float, Meta(ge=0.01, le=0.20)]
    description: Description | None = None

    def __post_init__(self) -> None:
        if len(set(self.countries)) < len(self.countries):
            raise ValueError("countries: each country at most once")


class AudienceQuery(PageQuery):
    """A page of audiences, newest first; ``search`` matches the name."""


class Audience(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An audience as the API shows it. Only a lookalike has a ``sourceAudienceId`` and ``lookalike``; its
    ``criteria`` stay empty, since Meta finds its people from the source."""

    id: uuid.UUID
    name: str
    description: str | None
    type: Literal["custom", "lookalike"]
    criteria: AudienceCriteria
    source_audience_id: uuid.UUID | None
    lookalike: store.Lookalike | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: store.Audience) -> Audience:
        """The store's row with its criteria typed; this API wrote them from ``AudienceCriteria``."""
        return msgspec.convert(row, cls, from_attributes=True)


class AudienceList(msgspec.Struct, frozen=True, kw_only=True):
    audiences: list[Audience]
    pagination: Pagination


def audiences_router(ctx: ApiContext) -> Router:
    router = Router("audiences", ctx, tag="Audiences")

    @router.route("GET", "/v1/audiences", summary="List audiences", access=Access.VIEWER,
                  query=AudienceQuery, response=AudienceList)
    async def list_audiences(call: Call) -> AudienceList:
        query: AudienceQuery = call.query
        page = await store.list_audiences(call.db, call.caller.organization_id, search=query.search_text(),
                                          limit=query.limit, offset=query.offset)
        audiences = [Audience.of(row) for row in page.items]
        return AudienceList(audiences=audiences, pagination=Pagination.of(page))

    @router.route("POST", "/v1/audiences", summary="Create a custom audience", access=Access.MEMBER,
                  body=AudienceCreate, response=Audience, status=201)
    async def create_audience(call: Call) -> Audience:
        body: AudienceCreate = call.body
        fields = store.NewAudience(name=body.name, description=body.description,
                                   criteria=msgspec.to_builtins(body.criteria))
        return Audience.of(await store.create_audience(call.db, call.caller.organization_id, fields))

    @router.route("GET", "/v1/audiences/<uuid:audience_id>", summary="Get an audience",
                  access=Access.VIEWER, response=Audience)
    async def get_audience(call: Call, audience_id: uuid.UUID) -> Audience:
        return Audience.of(await _get(call, audience_id))

    @router.route("PATCH", "/v1/audiences/<uuid:audience_id>", summary="Change some of an audience's fields",
                  access=Access.MEMBER, body=AudiencePatch, response=Audience, errors=(409,),
                  description="409 CONFLICT (field `criteria`) when the audience is a lookalike.")
    async def update_audience(call: Call, audience_id: uuid.UUID) -> Audience:
        body: AudiencePatch = call.body
        # A lookalike never becomes custom, so checking its type before the write cannot go stale.
        if not isinstance(body.criteria, UnsetType) and (await _get(call, audience_id)).type == "lookalike":
            raise ApiError(409, "CONFLICT", "a lookalike has no criteria of its own",
                           [ErrorDetail("criteria", "a lookalike's people come from its source audience")])
        audience = await store.update_audience(call.db, call.caller.organization_id, audience_id,
                                               body.changes())
        if audience is None:
            raise not_found("audience")
        return Audience.of(audience)

    @router.route("DELETE", "/v1/audiences/<uuid:audience_id>", summary="Delete an audience",
                  access=Access.MEMBER, status=204,
                  description="Deleting a custom audience also deletes every lookalike built from it.")
    async def delete_audience(call: Call, audience_id: uuid.UUID) -> None:
        if not await store.delete_audience(call.db, call.caller.organization_id, audience_id):
            raise not_found("audience")

    @router.route(
        "POST", "/v1/audiences/<uuid:audience_id>/lookalike", summary="Create a lookalike audience",
        access=Access.MEMBER, body=LookalikeCreate, response=Audience, status=201, errors=(409,),
        description="Creates the lookalike in SongTrackPro only; it is not sent to Meta by this call. "
                    "The source must be a custom audience: a lookalike of a lookalike is 409 CONFLICT.",
    )
    async def create_lookalike(call: Call, audience_id: uuid.UUID) -> Audience:
        body: LookalikeCreate = call.body
        with store_errors():
            audience = await store.create_lookalike(
                call.db, call.caller.organization_id, audience_id, name=body.name,
                countries=body.countries, ratio=body.ratio, description=body.description,
            )  # fmt: skip
        if audience is None:
            raise not_found("audience")
        return Audience.of(audience)

    return router


async def _get(call: Call, audience_id: uuid.UUID) -> store.Audience:
    audience = await store.get_audience(call.db, call.caller.organization_id, audience_id)
    if audience is None:
        raise not_found("audience")
    return audience
