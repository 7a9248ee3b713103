"""`/v1/audiences`: the people an organization targets, described by criteria (custom audiences) or
derived from one of them (lookalikes), and their push to Meta.

``POST …/sync/meta`` creates the audience on Meta as a customer-list custom audience (once) and uploads
the customers given, hashed (``adapters.meta.audiences``); a lookalike of an audience that is on Meta is
created on Meta too, in the same ad account, before it is stored here. Another organization's audience
answers 404, as a missing one does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from adapters.meta.audiences import MAX_ROWS_PER_REQUEST, SCHEMA_FIELDS
from adapters.meta.client import MetaClient
from adapters.meta.conversions import hash_field
from engine.store import audiences as store
from http_api.catalog.schemas import (
    AudienceCriteria,
    CountryCode,
    Description,
    Name,
    PageQuery,
    age_problem,
    iso_country,
    patch_changes,
)
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found, store_errors
from http_api.pagination import Pagination
from http_api.providers.clients import PROVIDER_ERRORS, meta_client
from http_api.routing import Access, Call, Router

__all__ = [
    "Audience",
    "AudienceCreate",
    "AudienceList",
    "AudiencePatch",
    "AudienceQuery",
    "LookalikeCreate",
    "MetaSync",
    "MetaSyncResult",
    "add_audience",
    "add_lookalike",
    "audiences_router",
    "push_audience",
]

AdAccountId = Annotated[str, Meta(pattern=r"^act_[0-9]{1,30}$", max_length=34,
                                  description="A Meta ad account id", examples=["act_1234567890"])]
_Text = Annotated[str, Meta(min_length=1, max_length=320)]


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
        self.countries = [iso_country(code) for code in self.countries]
        if len(set(self.countries)) < len(self.countries):
            raise ValueError("countries: each country at most once")


class Customer(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """One person of a customer list. Sent to Meta only normalised and SHA-256 hashed; stored nowhere.
    ``phone`` must include its country code (``+1 650 555 1212``)."""

    email: _Text | None = None
    phone: _Text | None = None
    first_name: _Text | None = None
    last_name: _Text | None = None
    country: CountryCode | None = None

    def __post_init__(self) -> None:
        self.country = iso_country(self.country)


class MetaSync(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Push a custom audience to Meta. ``adAccountId`` is needed the first time (later pushes go to the
    same audience); ``customers`` are added to it, at most 10,000 per call."""

    ad_account_id: AdAccountId | None = None
    customers: Annotated[list[Customer], Meta(max_length=MAX_ROWS_PER_REQUEST)] = []


class MetaSyncResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The audience as now linked, what Meta made of the upload, and its size as Meta estimates it."""

    audience: Audience
    customers_received: int
    customers_invalid: int
    approximate_count_lower_bound: int | None
    approximate_count_upper_bound: int | None


_CUSTOMER_SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "COUNTRY")
_CUSTOMER_FIELDS = ("email", "phone", "firstName", "lastName", "country")  # in _CUSTOMER_SCHEMA's order


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
    meta: store.MetaLink | None
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
        return Audience.of(await add_audience(call, call.body))

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
        access=Access.MEMBER, body=LookalikeCreate, response=Audience, status=201, errors=(409, *PROVIDER_ERRORS),
        description="When the source audience is on Meta (`meta` is set, see `POST /v1/audiences/{id}/sync/meta`)"
                    " the lookalike is created on Meta first, in the same ad account, and Meta's failure is"
                    " the answer (nothing is stored); Meta builds a lookalike for one country, so then"
                    " `countries` must hold one. Otherwise it is created in SongTrackPro only."
                    " The source must be a custom audience: a lookalike of a lookalike is 409 CONFLICT.",
    )
    async def create_lookalike(call: Call, audience_id: uuid.UUID) -> Audience:
        return Audience.of(await add_lookalike(call, audience_id, call.body))

    @router.route(
        "POST", "/v1/audiences/<uuid:audience_id>/sync/meta", summary="Push a custom audience to Meta",
        access=Access.MEMBER, body=MetaSync, response=MetaSyncResult, errors=(409, *PROVIDER_ERRORS),
        description="Creates the audience on Meta as a customer-list custom audience the first time (give"
                    " `adAccountId`, or leave it out when the connected Meta user has one ad account: 400"
                    " lists the choices when it has several), then adds the `customers` given, normalised and"
                    " hashed as Meta requires. The body may be left out. Meta applies uploads within hours,"
                    " so the size it reports may lag. A lookalike cannot"
                    " be pushed this way: create it from a pushed audience (409).",
    )
    async def sync_to_meta(call: Call, audience_id: uuid.UUID) -> MetaSyncResult:
        return await push_audience(call, audience_id, call.body)

    return router


async def add_audience(call: Call, body: AudienceCreate) -> store.Audience:
    """A new custom audience of the caller's organization (``POST /v1/audiences`` and the console's form)."""
    fields = store.NewAudience(name=body.name, description=body.description,
                               criteria=msgspec.to_builtins(body.criteria))
    return await store.create_audience(call.db, call.caller.organization_id, fields)


async def add_lookalike(call: Call, audience_id: uuid.UUID, body: LookalikeCreate) -> store.Audience:
    """A lookalike of the custom audience ``audience_id``, made on Meta first when the source is there
    (``POST /v1/audiences/{id}/lookalike`` and the console's form). Raises ``ApiError`` (400 naming the
    field, 404, 409, Meta's errors) with nothing stored."""
    source = await _get(call, audience_id)
    pushed = None
    if source.meta is not None and source.type == "custom":
        pushed = await _push_lookalike(call, source.meta, body)
    with store_errors():
        audience = await store.create_lookalike(
            call.db, call.caller.organization_id, audience_id, name=body.name,
            countries=body.countries, ratio=body.ratio, description=body.description, meta=pushed,
        )  # fmt: skip
    if audience is None:
        raise not_found("audience")
    return audience


async def push_audience(call: Call, audience_id: uuid.UUID, body: MetaSync) -> MetaSyncResult:
    """Push the custom audience to Meta, created there the first time, with ``body``'s customers (``POST
    /v1/audiences/{id}/sync/meta`` and the console's button). Raises ``ApiError`` (400 naming the field,
    404, 409, Meta's errors)."""
    audience = await _get(call, audience_id)
    if audience.type == "lookalike":
        raise ApiError(409, "CONFLICT", "a lookalike goes to Meta when it is created from a pushed audience",
                       [ErrorDetail("id", "is a lookalike")])
    if audience.meta is not None and body.ad_account_id not in (None, audience.meta.ad_account_id):
        raise ApiError(409, "CONFLICT", f"this audience is already on Meta in {audience.meta.ad_account_id}",
                       [ErrorDetail("adAccountId", f"must be {audience.meta.ad_account_id} or absent")])
    rows = _customer_rows(body.customers)  # every bad value is named before Meta is called
    async with meta_client(call) as (client, _):
        account = audience.meta.ad_account_id if audience.meta else (
            body.ad_account_id or await _only_account(client))
        meta_id = audience.meta.audience_id if audience.meta else (await client.create_custom_audience(
            account, name=audience.name, description=audience.description,
            customer_file_source="USER_PROVIDED_ONLY")).data
        received = invalid = 0
        if body.customers:
            uploaded = (await client.add_audience_users(meta_id, _CUSTOMER_SCHEMA, rows,
                                                        act_id=account)).data
            received, invalid = uploaded.num_received, uploaded.num_invalid_entries
        size = (await client.audience(meta_id, act_id=account)).data
    linked = await store.link_meta(call.db, call.caller.organization_id, audience_id, ad_account_id=account,
                                   meta_audience_id=meta_id)
    if linked is None:
        raise not_found("audience")
    return MetaSyncResult(audience=Audience.of(linked), customers_received=received, customers_invalid=invalid,
                          approximate_count_lower_bound=size.approximate_count_lower_bound,
                          approximate_count_upper_bound=size.approximate_count_upper_bound)


async def _push_lookalike(call: Call, source: store.MetaLink, body: LookalikeCreate) -> tuple[str, str]:
    """Create the lookalike on Meta; returns (ad account, Meta audience id)."""
    if len(body.countries) != 1:
        raise ApiError(400, "VALIDATION_ERROR", "Meta builds a lookalike for one country at a time",
                       [ErrorDetail("countries", "exactly one country when the source audience is on Meta")])
    async with meta_client(call) as (client, _):
        try:
            created = await client.create_lookalike_audience(
                source.ad_account_id, name=body.name, origin_audience_id=source.audience_id,
                country=body.countries[0], ratio=body.ratio)
        except ValueError as exc:  # Meta's steps of 0.01
            raise ApiError(400, "VALIDATION_ERROR", str(exc), [ErrorDetail("ratio", str(exc))]) from exc
    return source.ad_account_id, created.data


async def _only_account(client: MetaClient) -> str:
    """The connected Meta user's one ad account; 400 naming ``adAccountId`` and the choices otherwise."""
    accounts = [account.id for account in (await client.ad_accounts()).data]
    if len(accounts) == 1:
        return accounts[0]
    choices = f"one of {', '.join(accounts)}" if accounts else "an ad account (the Meta user has none)"
    raise ApiError(400, "VALIDATION_ERROR", "say which ad account to create the audience in",
                   [ErrorDetail("adAccountId", f"required: {choices}")])


def _customer_rows(customers: list[Customer]) -> list[list[str]]:
    """The customers as hashed rows in ``_CUSTOMER_SCHEMA`` order; a 400 naming every value Meta could not
    match on (an email without "@", a customer with no value at all)."""
    rows: list[list[str]] = []
    problems: list[ErrorDetail] = []
    for index, customer in enumerate(customers):
        values = [customer.email, customer.phone, customer.first_name, customer.last_name, customer.country]
        if all(value is None or not value.strip() for value in values):
            problems.append(ErrorDetail(f"customers[{index}]", f"give at least one of {', '.join(_CUSTOMER_FIELDS)}"))
            continue
        row = []
        for key, name, value in zip(_CUSTOMER_SCHEMA, _CUSTOMER_FIELDS, values, strict=True):
            try:
                row.append(hash_field(SCHEMA_FIELDS[key], value) if value and value.strip() else "")
            except ValueError as exc:
                problems.append(ErrorDetail(f"customers[{index}].{name}", str(exc)))
        rows.append(row)
    if problems:
        raise ApiError(400, "VALIDATION_ERROR", "some customers cannot be matched by Meta", problems)
    return rows


async def _get(call: Call, audience_id: uuid.UUID) -> store.Audience:
    audience = await store.get_audience(call.db, call.caller.organization_id, audience_id)
    if audience is None:
        raise not_found("audience")
    return audience
