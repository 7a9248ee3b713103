"""``record_and_claim``: a batch of finished attempts recorded and the next due deliveries claimed in the slots
the batch frees, never past an endpoint's ``max_in_flight`` (4, the default, here). Times are explicit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from engine.store import webhook_deliveries as deliveries
from engine.store.database import Database
from engine.store.outbox import enqueue_event
from engine.webhooks.schedule import Decision
from tests.helpers.factories import create_endpoint, create_org

LEASE = timedelta(minutes=1)


async def _claimed(db: Database, events: int) -> tuple[datetime, list[deliveries.Claim]]:
    org = await create_org(db)
    await create_endpoint(db, org)
    for n in range(events):
        await enqueue_event(db, org, "metrics.updated", {"n": n})
    now = datetime.now(UTC) + timedelta(seconds=1)
    return now, await deliveries.claim_due(db, "w", now=now, lease=LEASE, limit=10)


def _attempted(claim: deliveries.Claim, now: datetime, decision: Decision) -> deliveries.Attempted:
    result = deliveries.AttemptResult(attempted_at=now, duration_ms=3, status_code=200, response_body="ok")
    return deliveries.Attempted(claim, result, decision)


async def _statuses(db: Database, ids: list[uuid.UUID]) -> list[str]:
    rows = await db.fetch("SELECT status FROM webhook_deliveries WHERE id = ANY ($1) ORDER BY id", ids)
    return [row["status"] for row in rows]


async def test_the_slots_a_batch_frees_are_claimed_in_the_same_round_trip(db: Database) -> None:
    now, claims = await _claimed(db, 10)
    assert len(claims) == 4
    batch = [_attempted(claim, now, Decision("succeed")) for claim in claims[:3]]  # the 4th still in flight
    owned, more = await deliveries.record_and_claim(db, "w", batch, now=now, lease=LEASE, limit=10)
    assert owned == {claim.delivery_id for claim in claims[:3]}
    assert len(more) == 3 and not {c.delivery_id for c in more} & {c.delivery_id for c in claims}
    assert await _statuses(db, sorted(owned)) == ["succeeded"] * 3
    assert await deliveries.claim_due(db, "other", now=now, lease=LEASE, limit=10) == []  # 4 live claims
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 3


async def test_a_batch_with_a_retry_is_recorded_then_claims_as_well(db: Database) -> None:
    now, claims = await _claimed(db, 6)
    batch = [_attempted(claims[0], now, Decision("retry", 60)), _attempted(claims[1], now, Decision("succeed"))]
    owned, more = await deliveries.record_and_claim(db, "w", batch, now=now, lease=LEASE, limit=1)
    assert owned == {claims[0].delivery_id, claims[1].delivery_id} and len(more) == 1  # the limit we gave
    assert await _statuses(db, [claims[0].delivery_id]) == ["pending"]  # due again in 60 s, not claimed
    assert await _statuses(db, [claims[1].delivery_id]) == ["succeeded"]
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE claimed_by = 'w'") == 3
