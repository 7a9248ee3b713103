"""Benchmark: what the audit log (docs/audit-log.md) costs a write, next to the same write with nobody acting
(the audit triggers then write nothing and no setting is sent), measured in the same run.

Usage: .venv/bin/python bench/audit.py [--writes N] [--dsn DSN]

How: one organization with a campaign per writer; ``--writes`` changes of a campaign's budget (a changed
value each time, so every update records a row), from 4 concurrent writers, three ways:

1. in a transaction (``Database.transaction()``, as a route's ``atomic`` block): acting, the transaction
   starts with ``SET LOCAL songtrack.audit`` and the trigger inserts one ``audit_log`` row; baseline the
   same transaction with nobody acting;
2. a lone statement on the pool (``Database.execute``): acting, it runs in a transaction of its own to carry
   the setting (BEGIN, SET, the UPDATE, COMMIT); baseline a single round trip;
3. the audit rows the acting runs left, counted: one per write, or the figures mean nothing.

Without --dsn we start a throwaway embedded PostgreSQL (fsync off) and apply the migrations. Everything
shares this machine's cores with PostgreSQL: compare the ratios more than the absolute figures.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bench._pipeline_flow import new_campaigns, new_organization
from bench._scratch import scratch
from engine.audit import Actor, AuditContext, acting_as
from engine.store import Database, apply_migrations, open_database

WRITERS = 4
_UPDATE = "UPDATE campaigns SET budget = $2 WHERE id = $1"


async def _rate(db: Database, campaigns: list[uuid.UUID], writes: int,
                write: Callable[[Database, uuid.UUID, int], Awaitable[None]], acting: bool) -> float:
    """Writes a second: ``writes`` calls of ``write`` spread over one task per campaign."""
    context = AuditContext(actor=Actor(type="user", user_id=uuid.uuid4(), label="bench@example.com"),
                           source="PATCH /v1/campaigns/{campaign_id}", ip="127.0.0.1", request_id="bench")

    async def writer(campaign: uuid.UUID) -> None:
        with acting_as(context) if acting else nullcontext():
            for n in range(writes // len(campaigns)):
                await write(db, campaign, 1_000 + n)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for campaign in campaigns:
            nursery.start_soon(writer, campaign)
    return writes / (time.perf_counter() - started)


async def _in_transaction(db: Database, campaign: uuid.UUID, budget: int) -> None:
    async with db.transaction() as tx:
        await tx.execute(_UPDATE, campaign, budget)


async def _lone(db: Database, campaign: uuid.UUID, budget: int) -> None:
    await db.execute(_UPDATE, campaign, budget)


async def _main(writes: int, dsn: str) -> None:
    async with open_database(dsn, max_size=WRITERS + 1) as db:
        await apply_migrations(db)
        org = await new_organization(db, f"Bench audit {uuid.uuid4().hex[:6]}")
        campaigns = await new_campaigns(db, org, WRITERS, budget=500, started_days_ago=1, days=30, goals=None)
        print(f"{'writes/s of a campaign budget change':<46}{'audited':>12}{'nobody acts':>14}{'ratio':>8}")
        for label, write in (("in a transaction", _in_transaction), ("a lone statement on the pool", _lone)):
            await _rate(db, campaigns, writes // 10, write, acting=False)  # warm-up: the pool's connections
            baseline = await _rate(db, campaigns, writes, write, acting=False)
            audited = await _rate(db, campaigns, writes, write, acting=True)
            print(f"{label:<46}{audited:>12,.0f}{baseline:>14,.0f}{audited / baseline:>8.3f}", flush=True)
        rows = await db.fetchval("SELECT count(*) FROM audit_log WHERE organization_id = $1", org)
        print(f"audit rows written: {rows:,} for {2 * (writes // WRITERS) * WRITERS:,} audited writes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=4_000, help="writes per row (default 4000)")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway embedded PostgreSQL)")
    args = parser.parse_args()
    with scratch("bench-audit-", args.dsn) as run:
        trio.run(_main, args.writes, run.dsn())


if __name__ == "__main__":
    main()
