"""``engine.store.nodes`` and the status publisher against a real PostgreSQL: an actor's ``detail``
goes in as a jsonb object and comes back as the actor wrote it; only live nodes are read.

Rows are written through the store functions (or the publisher), never by hand.
"""

from __future__ import annotations

import uuid

import trio

from engine.publisher import StatusPublisher
from engine.registry import ActorState, Detail, Registry
from engine.store import Database, nodes
from tests.helpers.factories import connect_integration, create_owner

DETAIL: Detail = {
    "state": "waiting", "next_poll_at": "2026-11-22T19:10:00+00:00", "parked_until": None,
    "last_success_at": "2026-11-22T19:09:00+00:00", "last_error": None, "consecutive_failures": 0,
    "ad_accounts": 2, "share": 0.5, "opted_in": True,
}


async def _org_with_meta(db: Database, email: str) -> tuple[uuid.UUID, str]:
    """An organization with a Meta integration, and the name its account actor runs under."""
    org, owner = await create_owner(db, email, org_name=email)
    row = await connect_integration(db, org.id, account="1", display_name="Meta", connected_by=owner.id)
    return org.id, f"meta:{row.id}"


async def test_a_published_detail_reads_back_as_written_to_its_organization_only(db: Database) -> None:
    with trio.fail_after(10):
        (org, name), (other, _) = await _org_with_meta(db, "a@x.example"), await _org_with_meta(db, "b@x.example")
        label = await connect_integration(db, org, provider="spotify", account="label")
        registry = Registry()
        registry.set_detail(name, DETAIL)
        registry.set_detail(f"spotify:{label.id}", {"state": "waiting"})
        registry.update("aggregator", ActorState.RUNNING)
        node = await nodes.register_node(db)
        await nodes.publish_actors(db, node, registry.snapshot())
        report = await nodes.read_status(db, org)
        assert {a.name: a.detail for a in report.actors} == {
            "aggregator": None, name: DETAIL, f"spotify:{label.id}": {"state": "waiting"}}
        # Another organization sees the shared actors, not this one's account actor.
        assert [a.name for a in (await nodes.read_status(db, other)).actors] == ["aggregator"]
        kinds = await db.fetch("SELECT name, jsonb_typeof(detail) AS kind FROM engine_actors ORDER BY name")
        assert [(r["name"], r["kind"]) for r in kinds] == [
            ("aggregator", None), (name, "object"), (f"spotify:{label.id}", "object")]


async def test_a_new_detail_replaces_the_old_and_none_clears_it(db: Database) -> None:
    with trio.fail_after(10):
        registry = Registry()
        registry.set_detail("meta:1", DETAIL)
        node = await nodes.register_node(db)
        await nodes.publish_actors(db, node, registry.snapshot())
        registry.set_detail("meta:1", {"state": "parked", "consecutive_failures": 3})
        await nodes.publish_actors(db, node, registry.snapshot())
        assert (await nodes.live_actors(db, ["meta:1"]))["meta:1"].detail == {
            "state": "parked", "consecutive_failures": 3}
        registry.set_detail("meta:1", None)
        await nodes.publish_actors(db, node, registry.snapshot())
        assert (await nodes.live_actors(db, ["meta:1"]))["meta:1"].detail is None


async def test_live_actors_reads_only_the_named_actors_of_live_nodes(db: Database) -> None:
    with trio.fail_after(10):
        gone, live = Registry(), Registry()
        gone.set_detail("meta:1", {"state": "stale"})
        gone.set_detail("meta:2", {"state": "stale"})
        live.set_detail("meta:1", {"state": "waiting"})
        live.set_detail("meta:3", {"state": "waiting"})
        stopped_node, live_node = await nodes.register_node(db), await nodes.register_node(db)
        await nodes.publish_actors(db, stopped_node, gone.snapshot())
        await nodes.publish_actors(db, live_node, live.snapshot())
        await nodes.mark_node_stopped(db, stopped_node)
        found = await nodes.live_actors(db, ["meta:1", "meta:2", "meta:9"])
        assert list(found) == ["meta:1"]
        assert (found["meta:1"].node_id, found["meta:1"].detail) == (live_node, {"state": "waiting"})
        assert await nodes.live_actors(db, []) == {}


async def test_the_publisher_writes_a_detail_when_it_changes(db: Database) -> None:
    with trio.fail_after(10):
        registry = Registry()
        registry.update("meta:1", ActorState.RUNNING)
        publisher = StatusPublisher(db, registry, await nodes.register_node(db), heartbeat=60.0, min_interval=0.01)
        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run)
            assert (await nodes.live_actors(db, ["meta:1"]))["meta:1"].detail is None
            registry.set_detail("meta:1", DETAIL)
            # The write lands in the database, which has no event to wait on, so we poll it; the heartbeat
            # is far off, so only the change can have caused the write.
            while (await nodes.live_actors(db, ["meta:1"]))["meta:1"].detail != DETAIL:  # noqa: ASYNC110
                await trio.sleep(0.01)
            publisher.stop()
        assert await nodes.live_actors(db, ["meta:1"]) == {}  # a stopped node drops out


async def test_the_publisher_rewrites_only_what_changed_and_deletes_what_is_gone(db: Database) -> None:
    with trio.fail_after(10):
        registry = Registry()
        for name in ("meta:1", "meta:2", "meta:3"):
            registry.set_detail(name, {"state": "waiting"})
        publisher = StatusPublisher(db, registry, await nodes.register_node(db), heartbeat=60.0, min_interval=0.01)

        async def written() -> dict[str, object]:
            rows = await db.fetch("SELECT name, updated_at FROM engine_actors")
            return {row["name"]: row["updated_at"] for row in rows}

        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run)
            before = await written()
            registry.set_detail("meta:1", DETAIL)
            registry.forget("meta:3")
            while (after := await written()).keys() != {"meta:1", "meta:2"}:  # noqa: ASYNC110 -- see above
                await trio.sleep(0.01)
            assert after["meta:1"] != before["meta:1"]
            assert after["meta:2"] == before["meta:2"]  # unchanged, not written again
            publisher.stop()


async def test_every_supervision_state_can_be_published(db: Database) -> None:
    # The status table's CHECK lists the states; an actor waiting for the database once crashed the
    # publisher on the database's return because ``waiting_for_database`` was missing from it.
    with trio.fail_after(10):
        org, _ = await _org_with_meta(db, "c@x.example")
        registry = Registry()
        for state in ActorState:
            registry.update(f"actor-{state}", state)
        node = await nodes.register_node(db)
        await nodes.publish_actors(db, node, registry.snapshot())
        report = await nodes.read_status(db, org)
        assert {a.name: a.state for a in report.actors} == {f"actor-{s}": str(s) for s in ActorState}
