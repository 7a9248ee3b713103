"""`GET /v1/engine/status` carries each actor's own ``detail``, as published through
``engine.store.nodes``, and each node's leases: every organization's accounts counted, the caller's own named,
the singletons named (the access rules and the rest of the shape are in test_health.py).
"""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from engine.registry import ActorState, Registry
from engine.store import leases, nodes
from engine.store.database import Database
from http_api.catalog.schemas import NO_NUL
from tests.http_api.conftest import MakeMember, Simulators
from tests.http_api.connect import connect


async def test_each_actor_carries_its_detail_or_null_and_account_actors_stay_in_their_organization(
    db: Database, client: Client, simulators: Simulators, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    await connect(client, simulators, "meta", owner)
    name = f"meta:{await db.fetchval('SELECT id FROM integrations WHERE organization_id = $1', owner.org_id)}"
    registry = Registry()
    registry.update("aggregator", ActorState.RUNNING)
    registry.set_detail(name, {"state": "parked", "parked_until": "2026-11-22T20:00:00+00:00",
                               "consecutive_failures": 4, "last_error": "RateLimitedError: slow down"})
    await nodes.publish_actors(db, await nodes.register_node(db), registry.snapshot())
    body = await (await client.get("/v1/engine/status", headers=owner.headers)).get_json()
    by_name = {a["name"]: a for a in body["actors"]}
    assert by_name["aggregator"]["detail"] is None
    assert by_name[name]["state"] == "running"
    theirs = await (await client.get("/v1/engine/status", headers=stranger.headers)).get_json()
    assert [a["name"] for a in theirs["actors"]] == ["aggregator"]
    assert by_name[name]["detail"] == {
        "state": "parked", "parked_until": "2026-11-22T20:00:00+00:00",
        "consecutive_failures": 4, "last_error": "RateLimitedError: slow down",
    }


async def test_each_node_counts_every_account_it_holds_and_names_only_the_callers_own_and_its_singletons(
    db: Database, client: Client, simulators: Simulators, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    for member in (owner, stranger):
        await connect(client, simulators, "meta", member)
    rows = await db.fetch("SELECT organization_id, id FROM integrations")
    ours, theirs = ([f"meta:{r['id']}" for r in rows if r["organization_id"] == who.org_id]
                    for who in (owner, stranger))
    first, second, idle = [await nodes.register_node(db) for _ in range(3)]
    await leases.claim(db, first, [*ours, "singleton:housekeeper"], ttl=60, limit=10)
    await leases.claim(db, second, theirs, ttl=60, limit=10)
    await leases.claim(db, idle, ["singleton:gone"], ttl=60, limit=1)
    await leases.release(db, idle, ["singleton:gone"])
    body = await (await client.get("/v1/engine/status", headers=owner.headers)).get_json()
    held = {n["id"]: (n["accounts"], n["ownAccounts"], n["singletons"]) for n in body["nodes"]}
    assert held == {str(first): (1, ours, ["singleton:housekeeper"]), str(second): (1, [], []),
                    str(idle): (0, [], [])}


async def test_the_schema_types_detail_as_an_object_of_scalars_or_null(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    detail = doc["components"]["schemas"]["ActorRow"]["properties"]["detail"]
    scalars = [{"type": "string", "pattern": NO_NUL}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
               {"type": "null"}]
    assert {"type": "null"} in detail["anyOf"]
    (obj,) = [s for s in detail["anyOf"] if s.get("type") == "object"]
    assert obj["additionalProperties"] == {"anyOf": scalars}
