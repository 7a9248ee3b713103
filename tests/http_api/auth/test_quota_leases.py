"""The organizations' hourly quotas leased in blocks (http_api/quotas.py): two apps on one database stand
for two API processes. The limit holds exactly across them on the free tier (a block of one), a larger
tier loses at most a block per other process and never passes its limit, and a plain read writes the
counter once per block, not once per request.
"""

from __future__ import annotations

import dataclasses
import uuid

import trio.testing

from engine.store import accounts
from engine.store.database import Database
from http_api.context import ApiContext
from http_api.quotas import block_size
from songtrack.api import build_api
from tests.http_api.conftest import Client, MakeMember, Member


def _processes(ctx: ApiContext) -> tuple[Client, Client]:
    return build_api(ctx).app.test_client(), build_api(dataclasses.replace(ctx)).app.test_client()


async def _claimed(db: Database, org_id: uuid.UUID) -> int:
    """What the processes have claimed of the organization's hours so far."""
    claimed = await db.fetchval("SELECT coalesce(sum(count), 0) FROM rate_limit_counters WHERE key = $1",
                                f"org:{org_id}")
    assert isinstance(claimed, int)
    return claimed


async def _statuses(clients: list[Client], me: Member) -> list[int]:
    return [(await client.get("/v1/auth/profile", headers=me.headers)).status_code for client in clients]


async def test_the_free_tier_answers_429_at_the_101st_request_across_two_processes(
        ctx: ApiContext, make_member: MakeMember) -> None:
    me = await make_member()  # a new organization is on the free tier: 100 requests an hour, blocks of one
    one, two = _processes(ctx)
    statuses = await _statuses([one, two] * 50 + [one, two], me)
    assert statuses == [200] * 100 + [429, 429]


async def test_a_larger_tier_never_passes_its_limit_and_loses_at_most_a_block_per_other_process(
        ctx: ApiContext, db: Database, make_member: MakeMember) -> None:
    me = await make_member()
    await accounts.update_organization(db, me.org_id, tier="starter")  # 1,000 an hour, blocks of 10
    limit, block = 1_000, block_size(1_000)
    one, two = _processes(ctx)
    served_by_one = (await _statuses([one] * 3, me)).count(200)  # one now holds 7 numbers it never uses
    statuses = await _statuses([two] * (limit + 5), me)
    served = served_by_one + statuses.count(200)
    assert limit - (block - 1) <= served <= limit
    assert statuses[-5:] == [429] * 5 and await _claimed(db, me.org_id) == limit
    over = await one.get("/v1/auth/profile", headers=me.headers)  # its own block still has numbers left
    assert over.status_code == 200 and served + 1 <= limit


async def test_a_plain_read_writes_the_counter_once_per_block(
        ctx: ApiContext, db: Database, make_member: MakeMember) -> None:
    me = await make_member()
    await accounts.update_organization(db, me.org_id, tier="professional")  # 10,000 an hour, blocks of 100
    one, _ = _processes(ctx)
    first = await one.get("/v1/auth/profile", headers=me.headers)
    assert first.headers["X-RateLimit-Remaining"] == "9999" and await _claimed(db, me.org_id) == 100
    await _statuses([one] * 99, me)
    assert await _claimed(db, me.org_id) == 100  # 100 requests, one write
    last = await one.get("/v1/auth/profile", headers=me.headers)
    assert last.headers["X-RateLimit-Remaining"] == "9899" and await _claimed(db, me.org_id) == 200


async def test_a_new_hour_starts_a_new_lease(
        ctx: ApiContext, make_member: MakeMember, mock_clock: trio.testing.MockClock) -> None:
    me = await make_member()
    one, two = _processes(ctx)
    assert await _statuses([one, two] * 50, me) == [200] * 100
    assert await _statuses([one, two], me) == [429, 429]
    mock_clock.jump(3600)
    token = ctx.tokens.mint(user_id=me.user_id, org_id=me.org_id, role=me.role, session_id=me.session_id)
    fresh = await two.get("/v1/auth/profile", headers={"Authorization": f"Bearer {token}"})
    assert fresh.status_code == 200 and fresh.headers["X-RateLimit-Remaining"] == "99"
