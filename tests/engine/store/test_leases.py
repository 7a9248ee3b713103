"""Leases on a real PostgreSQL: free ones are split between claimers, a held one is never taken before it
expires, a new claim has a larger token, the loser's renewals and fenced writes are refused (a fenced
transaction's block never runs), a release is claimable at once and announced."""

from __future__ import annotations

import uuid

import pytest
import trio
from prometheus_client import REGISTRY

from engine.lease_plan import Lease
from engine.store import leases
from engine.store.database import Database, Notification
from engine.store.nodes import register_node

NAMES = [f"meta:{i:02d}" for i in range(10)]


async def _expire(db: Database, *names: str) -> None:
    """What the TTL does to a lease whose holder stopped renewing (the database's clock, moved by hand)."""
    await db.execute("UPDATE engine_leases SET expires_at = now() - interval '1 second' WHERE name = ANY($1)",
                     list(names))


async def test_free_leases_are_split_between_claimers_and_a_held_one_is_not_taken(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    first = await leases.claim(db, a, NAMES, ttl=30, limit=4)
    second = await leases.claim(db, b, NAMES, ttl=30, limit=100)
    assert len(first) == 4 and len(second) == 6 and not set(first) & set(second)
    assert await leases.claim(db, b, NAMES, ttl=30, limit=100) == {}
    assert await leases.held_by(db, a) == first


async def test_concurrent_claims_never_give_one_lease_to_two_processes(db: Database) -> None:
    names = [f"meta:{i:03d}" for i in range(200)]
    claimed: dict[uuid.UUID, dict[str, int]] = {}

    async def claimer(node: uuid.UUID) -> None:
        claimed[node] = {}
        for _ in range(10):
            claimed[node] |= await leases.claim(db, node, names, ttl=30, limit=10)

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(claimer, uuid.uuid4())
    held = [name for mine in claimed.values() for name in mine]
    assert len(held) == len(set(held)) == 200


async def test_an_expired_lease_goes_to_another_with_a_larger_token_and_fences_the_first(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    old = await leases.claim(db, a, ["meta:01"], ttl=30, limit=1)
    await _expire(db, "meta:01")
    new = await leases.claim(db, b, ["meta:01"], ttl=30, limit=1)
    assert new["meta:01"] > old["meta:01"]
    assert await leases.renew(db, a, old, ttl=30) == set()  # a learns it lost the lease
    assert await leases.renew(db, b, new, ttl=30) == {"meta:01"}
    async with db.transaction() as conn:
        assert await leases.fenced(conn, old) == {"meta:01"}
        assert await leases.fenced(conn, new) == set()
        assert await leases.fenced(conn, {"meta:never-claimed": 1}) == {"meta:never-claimed"}


async def test_a_fenced_transaction_runs_under_the_current_token_only(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    old = Lease("meta:01", (await leases.claim(db, a, ["meta:01"], ttl=30, limit=1))["meta:01"])
    ran: list[Lease] = []
    async with leases.fenced_transaction(db, old, "test") as tx:
        ran.append(old)
        assert await leases.fenced(tx, {old.name: old.token}) == set()
    await _expire(db, "meta:01")
    new = Lease("meta:01", (await leases.claim(db, b, ["meta:01"], ttl=30, limit=1))["meta:01"])
    refused = REGISTRY.get_sample_value("songtrack_fenced_writes_total", {"write": "test"}) or 0.0
    with pytest.raises(leases.LeaseLost, match="meta:01 lost to another engine process") as lost:
        async with leases.fenced_transaction(db, old, "test"):
            ran.append(old)  # never: the fence raises before the block
    assert (lost.value.lease, lost.value.write) == (old, "test")
    assert REGISTRY.get_sample_value("songtrack_fenced_writes_total", {"write": "test"}) == refused + 1
    async with leases.fenced_transaction(db, new, "test"):
        ran.append(new)
    assert ran == [old, new]


async def test_a_fence_held_open_lets_its_holder_renew_and_no_one_claim(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    held = await leases.claim(db, a, ["meta:01"], ttl=30, limit=1)
    lease = Lease("meta:01", held["meta:01"])
    async with leases.fenced_transaction(db, lease, "test"):  # a token refresh waiting on its provider
        with trio.fail_after(5):
            assert await leases.renew(db, a, held, ttl=30) == {"meta:01"}  # not held up by the lock
        await _expire(db, "meta:01")
        assert await leases.claim(db, b, ["meta:01"], ttl=30, limit=1) == {}  # skipped while locked
    assert await leases.claim(db, b, ["meta:01"], ttl=30, limit=1) == {"meta:01": lease.token + 1}


async def test_a_renewal_keeps_a_lease_from_expiring(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    held = await leases.claim(db, a, ["meta:01"], ttl=1, limit=1)
    assert await leases.renew(db, a, held, ttl=30) == {"meta:01"}
    left = await db.fetchval("SELECT extract(epoch FROM expires_at - now()) FROM engine_leases")
    assert 29 < float(left) <= 30  # type: ignore[arg-type]
    assert await leases.claim(db, b, ["meta:01"], ttl=30, limit=1) == {}


async def test_a_release_is_claimable_at_once_and_announced(db: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    held = await leases.claim(db, a, NAMES, ttl=30, limit=10)
    async with db.listen(leases.LEASES_CHANNEL) as inbox:
        await leases.release(db, a, NAMES[:3])
        with trio.fail_after(5):
            assert await inbox.receive() == Notification(leases.LEASES_CHANNEL, "")
    assert set(await leases.claim(db, b, NAMES, ttl=30, limit=10)) == set(NAMES[:3])
    assert set(await leases.held_by(db, a)) == set(held) - set(NAMES[:3])


async def test_live_engines_are_counted_by_their_heartbeat(db: Database) -> None:
    first, second = await register_node(db), await register_node(db)
    assert await leases.live_engine_count(db, within=30) == 2
    await db.execute("UPDATE engine_nodes SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", first)
    await db.execute("UPDATE engine_nodes SET stopped_at = now() WHERE id = $1", second)
    assert await leases.live_engine_count(db, within=30) == 0
