"""The dev mailbox: readable in sandbox mode from this machine, and a plain 404 anywhere else.

Rules: emails are sent through the real ``Mailer`` (no SMTP configured, so they only reach the log);
"anywhere else" is arranged with the ASGI scope's ``client``, which is what Quart reads the peer from.
A hidden mailbox must answer exactly like a route that does not exist.
"""

from __future__ import annotations

import pytest
from quart_trio import QuartTrio

from config import load
from http_api.context import ApiContext
from http_api.errors import install_error_handlers
from http_api.ops.dev import dev_router
from tests.http_api.conftest import Client

MAILBOX = "/v1/dev/mailbox"


def _app(ctx: ApiContext) -> QuartTrio:
    app = QuartTrio(__name__)
    install_error_handlers(app)
    app.register_blueprint(dev_router(ctx).blueprint)
    return app


@pytest.fixture
def app(ctx: ApiContext) -> QuartTrio:
    return _app(ctx)


async def _send(ctx: ApiContext, *recipients: str) -> None:
    for n, to in enumerate(recipients):
        await ctx.mailer.send(to=to, subject=f"mail {n}", body=f"body {n}", org_id=None)


async def _not_found_body(client: Client) -> object:
    return await (await client.get("/v1/no-such-route")).get_json()


async def test_the_mailbox_lists_emails_newest_first(client: Client, ctx: ApiContext) -> None:
    await _send(ctx, "ana@label.example", "bo@label.example", "Ana@LABEL.example")
    response = await client.get(MAILBOX)
    assert response.status_code == 200
    emails = (await response.get_json())["emails"]
    assert [e["subject"] for e in emails] == ["mail 2", "mail 1", "mail 0"]
    assert sorted(emails[0]) == ["body", "createdAt", "error", "id", "sentAt", "subject", "to"]
    assert emails[0]["sentAt"] is None  # no SMTP server: it only ever reached the log
    mine = await client.get(MAILBOX, query_string={"to": "ANA@label.example", "limit": "1"})
    assert [e["subject"] for e in (await mine.get_json())["emails"]] == ["mail 2"]


async def test_a_bad_query_is_refused(client: Client) -> None:
    response = await client.get(MAILBOX, query_string={"limit": "0", "to": "nope"})
    assert response.status_code == 400
    assert sorted(d["field"] for d in (await response.get_json())["error"]["details"]) == ["limit", "to"]


@pytest.mark.parametrize(("peer", "status"), [
    ("127.0.0.1", 200), ("127.0.0.2", 200), ("::1", 200), ("::ffff:127.0.0.1", 200),
    ("10.0.0.7", 404), ("192.168.1.20", 404), ("2001:db8::1", 404),
])
async def test_only_loopback_peers_see_the_mailbox(client: Client, ctx: ApiContext, peer: str,
                                                   status: int) -> None:
    await _send(ctx, "ana@label.example")
    response = await client.get(MAILBOX, scope_base={"client": (peer, 50000)})
    assert response.status_code == status
    if status == 404:
        assert await response.get_json() == await _not_found_body(client)


async def test_the_mailbox_does_not_exist_when_sandbox_is_off(ctx: ApiContext) -> None:
    settings = load({"SONGTRACK_SANDBOX": "off", "SONGTRACK_AUTH_ATTEMPTS": "10000"})
    # A new context rather than dataclasses.replace: ApiContext caches its mailer and token service.
    off = ApiContext(ctx.database, ctx.migrations, settings, ctx.keys, now=ctx.now)
    assert not off.sandbox
    await _send(ctx, "ana@label.example")
    client = _app(off).test_client()
    response = await client.get(MAILBOX)
    assert response.status_code == 404
    assert await response.get_json() == await _not_found_body(client)
    assert (await client.get(MAILBOX, query_string={"limit": "0"})).status_code == 404  # not even a 400
