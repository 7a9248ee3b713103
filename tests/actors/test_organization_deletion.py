"""What the engine does when an organization is deleted (``engine.store.organization_data``): its account
actors stop, as for a disconnect, and its pending webhook deliveries are never sent.

Rules: the actors' test runs as tests/actors/test_accounts.py (the Meta simulator in-process, a MockClock,
every change heard through ``NOTIFY``); the webhook test as tests/actors/test_webhook_dispatcher.py (a real
receiver on 127.0.0.1, trio's real clock), with a second organization whose delivery proves the
dispatcher was running while the deleted one's stayed unsent; a delivery already under way when its
organization goes is let go without an error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio
from trio.testing import MockClock

from engine.messages import MetricSample
from engine.registry import Registry
from engine.store import Database
from engine.store import webhook_deliveries as deliveries
from engine.store.organization_data import delete_organization
from engine.store.outbox import enqueue_event
from engine.webhooks.schedule import Decision
from tests.actors.test_accounts import running, supervisor, until
from tests.actors.test_meta_account import clock, connect, simulator
from tests.actors.test_webhook_dispatcher import add_endpoint, dispatcher
from tests.helpers.factories import create_endpoint, create_owner
from tests.helpers.receiver import serve_receiver

__all__ = ["clock"]  # the fixture, imported so that pytest finds it here


async def test_the_deleted_organizations_actor_stops_and_the_others_go_on(db: Database, clock: MockClock) -> None:
    sim = simulator()
    gone, kept = [(await connect(db, sim))[0] for _ in range(2)]
    send, receive = trio.open_memory_channel[MetricSample](64)
    accounts = supervisor(db, sim, Registry(), send)
    async with running(accounts, send, receive):
        assert accounts.children == sorted([f"meta:{gone.id}", f"meta:{kept.id}"])
        assert await delete_organization(db, gone.organization_id) is not None
        await until(lambda: f"meta:{gone.id}" not in accounts.children)
        assert accounts.children == [f"meta:{kept.id}"]


async def test_a_pending_delivery_of_a_deleted_organization_is_never_sent(db: Database,
                                                                          nursery: trio.Nursery) -> None:
    receiver = await serve_receiver(nursery)
    (deleted, _), (other, _) = await create_owner(db), await create_owner(db)
    await add_endpoint(db, deleted.id, receiver, "/deleted")
    await add_endpoint(db, other.id, receiver, "/other")
    await enqueue_event(db, deleted.id, "budget.warning", {"campaignId": "c1", "threshold": 0.8})
    assert await delete_organization(db, deleted.id) is not None
    await nursery.start(dispatcher(db).run)
    sent = await enqueue_event(db, other.id, "budget.warning", {"campaignId": "c2", "threshold": 0.8})
    assert (await receiver.next()).event_id == sent
    await trio.sleep(0.6)  # three of the dispatcher's polls: time for anything still due to go out
    assert [(r.path, r.event_id) for r in receiver.received] == [("/other", sent)]


async def test_a_delivery_in_flight_when_its_organization_goes_is_let_go(db: Database) -> None:
    org, _ = await create_owner(db)
    await create_endpoint(db, org.id)
    await enqueue_event(db, org.id, "budget.warning", {"campaignId": "c1", "threshold": 0.8})
    now = datetime.now(UTC)
    (claim,) = await deliveries.claim_due(db, "worker-1", now=now, lease=timedelta(minutes=1), limit=10)
    assert await delete_organization(db, org.id) is not None  # while the POST is under way
    sent = deliveries.AttemptResult(attempted_at=now, duration_ms=12, status_code=200)
    attempted = deliveries.Attempted(claim, sent, Decision("succeed"))
    assert not await deliveries.record_attempts(db, "worker-1", [attempted], now=now)
