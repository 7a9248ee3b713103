"""``enqueue_event``: the event and one pending delivery per enabled, subscribed endpoint of the
organization, in the caller's transaction, and a NOTIFY on commit."""

from __future__ import annotations

import uuid

import msgspec
import trio

from engine.store import webhooks as store
from engine.store.database import Database
from engine.store.outbox import OUTBOX_CHANNEL, enqueue_event
from tests.helpers.factories import create_endpoint, create_org


async def test_one_delivery_per_subscribed_enabled_endpoint_of_the_org(db: Database) -> None:
    org, other = await create_org(db), await create_org(db)
    everything, budget = await create_endpoint(db, org), await create_endpoint(db, org, "budget.warning")
    goal = await create_endpoint(db, org, "goal.reached")
    off = await create_endpoint(db, org)
    await store.update_endpoint(db, org, off, {"enabled": False})
    await create_endpoint(db, other)
    event_id = await enqueue_event(db, org, "budget.warning", {"campaignId": uuid.UUID(int=1)})
    rows = await db.fetch("SELECT endpoint_id, status FROM webhook_deliveries WHERE event_id = $1", event_id)
    assert {row["endpoint_id"] for row in rows} == {everything, budget}
    assert {row["status"] for row in rows} == {"pending"} and goal not in {row["endpoint_id"] for row in rows}
    raw = await db.fetchval("SELECT payload::text FROM webhook_events WHERE id = $1", event_id)
    assert isinstance(raw, str)
    payload = msgspec.json.decode(raw)
    assert payload["id"] == event_id and payload["type"] == "budget.warning"
    assert payload["data"] == {"campaignId": str(uuid.UUID(int=1))} and payload["timestamp"].endswith("Z")


async def test_only_and_exclude(db: Database) -> None:
    org = await create_org(db)
    first, second = await create_endpoint(db, org, "goal.reached"), await create_endpoint(db, org)
    only = await enqueue_event(db, org, "webhook.test", {}, only_endpoint=first)
    others = await enqueue_event(db, org, "endpoint.disabled", {}, exclude_endpoint=first)
    assert await db.fetchval("SELECT array_agg(endpoint_id) FROM webhook_deliveries WHERE event_id = $1",
                             only) == [first]
    assert await db.fetchval("SELECT array_agg(endpoint_id) FROM webhook_deliveries WHERE event_id = $1",
                             others) == [second]


async def test_a_rolled_back_transaction_leaves_nothing_and_a_commit_notifies(db: Database) -> None:
    org = await create_org(db)
    await create_endpoint(db, org)
    async with db.listen(OUTBOX_CHANNEL) as notes:
        try:
            async with db.transaction() as tx:
                await enqueue_event(tx, org, "goal.reached", {})
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        assert await db.fetchval("SELECT count(*) FROM webhook_events") == 0
        async with db.transaction() as tx:
            event_id = await enqueue_event(tx, org, "goal.reached", {})
        with trio.fail_after(5):
            note = await notes.receive()
    assert note.payload == event_id
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE event_id = $1", event_id) == 1
