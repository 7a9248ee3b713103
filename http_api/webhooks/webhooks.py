"""`/v1/webhooks`: an organization's webhook endpoints and their deliveries (WEBHOOKS.md, "Management").

Reads need the viewer role; every change, the test event, resend, recover and rotation need admin. An
endpoint's secret is shown twice only: in the answer that created it and in the one that rotated it. The
caller may choose the secret (the API reference's ``secret``); a weak one is a 400 naming ``secret``.
URLs are checked on create and update (http/https, no credentials, no non-public literal address unless
``[webhooks] allow_subnets`` allows it); host names are checked by the dispatcher on what they resolve to
when it connects. Another organization's endpoint or event answers 404, as a missing one does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.store import webhooks as store
from engine.webhooks.events import EventType
from engine.webhooks.signing import chosen_secret
from engine.webhooks.ssrf import UnsafeTarget, check_url, parse_subnets
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail, not_found
from http_api.pagination import ListQuery, Pagination, paginate
from http_api.routing import Access, Call, Router

__all__ = [
    "RecoverBody", "Webhook", "WebhookCreate", "WebhookCreated", "WebhookPatch", "create_endpoint",
    "recover_deliveries", "resend_event", "rotate_endpoint_secret", "send_test_event", "webhooks_router",
]  # fmt: skip

# http(s), a host (a name, an IPv4 address or a bracketed IPv6 one) and no credentials, as check_url wants;
# whether the host is public (resolution, allow-listed subnets) no pattern can say.
_PORT = r"(?::(?:[0-9]{0,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
Url = Annotated[str, Meta(min_length=1, max_length=2048,
                          pattern=rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:\[[0-9A-Fa-f:.]+\]|[^/?#@:\[\]\x00-\x20\x7f]+)"
                                  rf"{_PORT}(?:[/?#]|$(?![\s\S]))",
                          examples=["https://example.com/hooks/songtrack"])]
Description = Annotated[str, Meta(max_length=500)]
EventTypes = Annotated[list[EventType], Meta(max_length=20, description="Empty: every event type")]
# The API reference names the subscribed types ``events``; the store (and our Python) says event_types.
_EVENTS: list[EventType] = msgspec.field(default_factory=list, name="events")
Secret = Annotated[str, Meta(min_length=12, max_length=200, description=(
    "The signing secret, if you choose it: a `whsec_` secret, or 12 to 64 bytes of text with at least 8"
    " different characters (its UTF-8 bytes are the HMAC key). Absent: we generate one"))]
MaxInFlight = Annotated[int, Meta(ge=1, le=64, description="Deliveries in flight to this endpoint at once")]
EventId = Annotated[str, Meta(pattern=r"^evt_[0-9a-f]{1,64}$")]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    url: Url
    description: Description | None = None
    event_types: EventTypes = _EVENTS
    max_in_flight: MaxInFlight = 4
    secret: Secret | None = None


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The fields to change; ``enabled: true`` re-enables a disabled endpoint (then ``recover`` what
    failed meanwhile)."""

    url: Url | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    event_types: EventTypes | UnsetType = msgspec.field(default=UNSET, name="events")
    max_in_flight: MaxInFlight | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class Webhook(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str] = msgspec.field(name="events")
    enabled: bool
    disabled_reason: str | None
    max_in_flight: int
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: store.Endpoint) -> Webhook:
        return msgspec.convert(row, cls, from_attributes=True)


class WebhookCreated(Webhook, frozen=True, kw_only=True, rename="camel"):
    """The endpoint and its signing secret, shown this once."""

    secret: str


class WebhookList(msgspec.Struct, frozen=True, kw_only=True):
    webhooks: list[Webhook]
    pagination: Pagination


class SecretRotated(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The new secret, shown this once; the previous one also signs until ``previousSecretExpiresAt``."""

    secret: str
    previous_secret_expires_at: datetime


class EventQueued(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    event_id: str


class RecoverBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # msgspec documents a datetime that may lack an offset as any string; without one we read UTC.
    since: Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]


class Recovered(msgspec.Struct, frozen=True, kw_only=True):
    recovered: int


class Stats(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pending: int
    succeeded: int
    failed: int
    attempts: int
    average_duration_ms: float | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


class AttemptOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    attempted_at: datetime
    duration_ms: int | None
    status_code: int | None
    error: str | None
    response_body: str | None


class AttemptList(msgspec.Struct, frozen=True, kw_only=True):
    attempts: list[AttemptOut]
    pagination: Pagination


def webhooks_router(ctx: ApiContext) -> Router:
    router = Router("webhooks", ctx, tag="Webhooks")
    _crud(router, ctx)
    _deliveries(router)
    return router


def _crud(router: Router, ctx: ApiContext) -> None:
    @router.route("GET", "/v1/webhooks", summary="List webhook endpoints", access=Access.VIEWER,
                  query=ListQuery, response=WebhookList)
    async def list_webhooks(call: Call) -> WebhookList:
        rows, pagination = paginate(await store.list_endpoints(call.db, call.caller.organization_id), call.query)
        return WebhookList(webhooks=[Webhook.of(row) for row in rows], pagination=pagination)

    @router.route("POST", "/v1/webhooks", summary="Create a webhook endpoint", access=Access.ADMIN,
                  body=WebhookCreate, response=WebhookCreated, status=201,
                  description="The answer holds the signing secret (`whsec_…`; a chosen text secret shows as"
                              " `whsec_` + base64 of its bytes); it is not shown again.")
    async def create_webhook(call: Call) -> WebhookCreated:
        return await create_endpoint(call, call.body)

    @router.route("GET", "/v1/webhooks/<uuid:webhook_id>", summary="Get a webhook endpoint",
                  access=Access.VIEWER, response=Webhook)
    async def get_webhook(call: Call, webhook_id: uuid.UUID) -> Webhook:
        return Webhook.of(await _get(call, webhook_id))

    @router.route("PATCH", "/v1/webhooks/<uuid:webhook_id>", summary="Change a webhook endpoint",
                  access=Access.ADMIN, body=WebhookPatch, response=Webhook)
    async def update_webhook(call: Call, webhook_id: uuid.UUID) -> Webhook:
        body: WebhookPatch = call.body
        changes = {name: value for name, value in msgspec.structs.asdict(body).items() if value is not UNSET}
        if isinstance(body.url, str):
            _check_url(ctx, body.url)
        if "event_types" in changes:
            changes["event_types"] = list(body.event_types)  # type: ignore[arg-type]
        row = await store.update_endpoint(call.db, call.caller.organization_id, webhook_id, changes)
        if row is None:
            raise not_found("webhook")
        return Webhook.of(row)

    @router.route("DELETE", "/v1/webhooks/<uuid:webhook_id>", summary="Delete a webhook endpoint",
                  access=Access.ADMIN, status=204)
    async def delete_webhook(call: Call, webhook_id: uuid.UUID) -> None:
        if not await store.delete_endpoint(call.db, call.caller.organization_id, webhook_id):
            raise not_found("webhook")

    @router.route("POST", "/v1/webhooks/<uuid:webhook_id>/rotate-secret", summary="Rotate the signing secret",
                  access=Access.ADMIN, response=SecretRotated,
                  description="Both the old and the new secret sign every delivery for the next 24 hours.")
    async def rotate_secret(call: Call, webhook_id: uuid.UUID) -> SecretRotated:
        return await rotate_endpoint_secret(call, webhook_id)


def _deliveries(router: Router) -> None:
    @router.route("POST", "/v1/webhooks/<uuid:webhook_id>/test", summary="Send a test event",
                  access=Access.ADMIN, response=EventQueued, status=202,
                  description="Queues a `webhook.test` event for this endpoint alone, whatever it subscribes to.")
    async def send_test(call: Call, webhook_id: uuid.UUID) -> EventQueued:
        return await send_test_event(call, webhook_id)

    @router.route("GET", "/v1/webhooks/<uuid:webhook_id>/stats", summary="Delivery statistics",
                  access=Access.VIEWER, response=Stats)
    async def stats(call: Call, webhook_id: uuid.UUID) -> Stats:
        row = await store.endpoint_stats(call.db, call.caller.organization_id, webhook_id)
        if row is None:
            raise not_found("webhook")
        return msgspec.convert(row, Stats, from_attributes=True)

    @router.route("GET", "/v1/webhooks/<uuid:webhook_id>/events/<string:event_id>/attempts",
                  summary="The attempts to deliver one event", access=Access.VIEWER, query=ListQuery,
                  response=AttemptList, description="Oldest first; each response body is cut to 4 KB.")
    async def attempts(call: Call, webhook_id: uuid.UUID, event_id: str) -> AttemptList:
        rows = await store.attempts_for_event(call.db, call.caller.organization_id, webhook_id, event_id)
        if rows is None:
            raise not_found("event")
        shown, pagination = paginate(rows, call.query)
        return AttemptList(attempts=[msgspec.convert(row, AttemptOut, from_attributes=True) for row in shown],
                           pagination=pagination)

    @router.route("POST", "/v1/webhooks/<uuid:webhook_id>/events/<string:event_id>/resend",
                  summary="Deliver one event again", access=Access.ADMIN, response=EventQueued, status=202,
                  description="Same event id, a fresh retry schedule.")
    async def resend(call: Call, webhook_id: uuid.UUID, event_id: str) -> EventQueued:
        return await resend_event(call, webhook_id, event_id)

    @router.route("POST", "/v1/webhooks/<uuid:webhook_id>/recover", summary="Recover failed deliveries",
                  access=Access.ADMIN, body=RecoverBody, response=Recovered, status=202,
                  description="Queues again every delivery to this endpoint that failed for good and whose"
                              " event was created at or after `since`.")
    async def recover(call: Call, webhook_id: uuid.UUID) -> Recovered:
        return await recover_deliveries(call, webhook_id, call.body)


async def create_endpoint(call: Call, body: WebhookCreate) -> WebhookCreated:
    """Create the caller's organization's endpoint with its secret (shown this once). Raises ``ApiError``
    400 naming ``url`` for a URL that cannot receive webhooks, ``secret`` for a weak chosen secret."""
    _check_url(call.ctx, body.url)
    fields = store.NewEndpoint(url=body.url, description=body.description, event_types=list(body.event_types),
                               max_in_flight=body.max_in_flight, secret=_chosen(body.secret))
    row, secret = await store.create_endpoint(call.db, call.ctx.keys.token_encryption_key,
                                              call.caller.organization_id, fields)
    return WebhookCreated(**msgspec.structs.asdict(Webhook.of(row)), secret=secret)


async def rotate_endpoint_secret(call: Call, webhook_id: uuid.UUID) -> SecretRotated:
    """A new secret (shown this once); the previous one signs for 24 hours more. 404 when not found."""
    rotated = await store.rotate_secret(call.db, call.ctx.keys.token_encryption_key, call.caller.organization_id,
                                        webhook_id, now=_now(call.ctx))
    if rotated is None:
        raise not_found("webhook")
    return SecretRotated(secret=rotated[0], previous_secret_expires_at=rotated[1])


async def send_test_event(call: Call, webhook_id: uuid.UUID) -> EventQueued:
    """Queue ``webhook.test`` for this endpoint alone. 404 when not found."""
    event_id = await store.send_test_event(call.db, call.caller.organization_id, webhook_id, now=_now(call.ctx))
    if event_id is None:
        raise not_found("webhook")
    return EventQueued(event_id=event_id)


async def resend_event(call: Call, webhook_id: uuid.UUID, event_id: str) -> EventQueued:
    """Deliver ``event_id`` to the endpoint again with a fresh schedule. 404 when either is not found."""
    if not await store.resend_event(call.db, call.caller.organization_id, webhook_id, event_id, now=_now(call.ctx)):
        raise not_found("event")
    return EventQueued(event_id=event_id)


async def recover_deliveries(call: Call, webhook_id: uuid.UUID, body: RecoverBody) -> Recovered:
    """Queue again the endpoint's deliveries that failed for good, of events created at or after
    ``body.since`` (UTC when it has no offset). 404 when the endpoint is not found."""
    since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
    count = await store.recover_failed(call.db, call.caller.organization_id, webhook_id, since=since,
                                       now=_now(call.ctx))
    if count is None:
        raise not_found("webhook")
    return Recovered(recovered=count)


def _now(ctx: ApiContext) -> datetime:
    return datetime.fromtimestamp(ctx.now(), UTC)


def _chosen(secret: str | None) -> str | None:
    if secret is None:
        return None
    try:
        return chosen_secret(secret)
    except ValueError as exc:
        raise ApiError(400, "VALIDATION_ERROR", "this secret is too weak to sign webhooks",
                       [ErrorDetail("secret", str(exc))]) from None


def _check_url(ctx: ApiContext, url: str) -> None:
    try:
        check_url(url, parse_subnets(ctx.settings.webhooks.subnets()))
    except UnsafeTarget as exc:
        raise ApiError(400, "VALIDATION_ERROR", "this URL cannot receive webhooks",
                       [ErrorDetail("url", str(exc))]) from None


async def _get(call: Call, webhook_id: uuid.UUID) -> store.Endpoint:
    row = await store.get_endpoint(call.db, call.caller.organization_id, webhook_id)
    if row is None:
        raise not_found("webhook")
    return row
