"""The dev mailbox: the emails the service has "sent", read back over HTTP, so a person can finish the
verify-email, reset-password and invitation flows by hand without an SMTP server.

It exists only in sandbox mode and only for requests from this machine; anywhere else it answers 404
as if it were not there. Sending mail is ``engine.mailer``'s; the log is ``engine.store.mail``'s.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from quart import request
from werkzeug.exceptions import NotFound

from engine.store import mail
from http_api.context import ApiContext
from http_api.fields import Email
from http_api.forwarded import from_this_machine
from http_api.routing import Access, Call, Router

__all__ = ["dev_router"]


class MailboxQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    to: Email | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


class MailboxEmail(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    to: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None  # None: no SMTP server, so it only ever reached this mailbox
    error: str | None


class Mailbox(msgspec.Struct, frozen=True):
    emails: list[MailboxEmail]


def dev_router(ctx: ApiContext) -> Router:
    """The dev routes; with sandbox mode off the router is empty, so they are not even documented."""
    router = Router("dev", ctx, tag="Development")
    if not ctx.sandbox:
        return router

    @router.route("GET", "/v1/dev/mailbox", summary="Emails the service sent (sandbox only)",
                  access=Access.PUBLIC, query=MailboxQuery, response=Mailbox, errors=(404,),
                  description="Exists only in sandbox mode, and only for requests from a loopback address "
                              "(127.0.0.1, ::1); otherwise 404. Newest first; `to` filters by recipient "
                              "in any case. The bodies hold live verification, reset and invitation "
                              "tokens: never expose a sandbox server to other machines.")
    async def mailbox(call: Call) -> Mailbox:
        if not (call.ctx.sandbox and from_this_machine(request.remote_addr)):
            raise NotFound()  # the very answer of a route that does not exist
        query: MailboxQuery = call.query
        found = await mail.list_emails(call.db, to=query.to, limit=query.limit)
        return Mailbox([_email_out(e) for e in found])

    return router


def _email_out(email: mail.OutboundEmail) -> MailboxEmail:
    return MailboxEmail(id=email.id, to=email.to_address, subject=email.subject, body=email.body,
                        created_at=email.created_at, sent_at=email.sent_at, error=email.error)
